// LoadBalancer IPs in the lab: the pool, and which node answers for each address.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EndpointSlice, Node, Service } from '../../src/api/types.ts';
import { announcements } from '../../src/agent/announce.ts';
import { poolAddresses } from '../../src/controllers/loadbalancer.ts';

const node = (name: string, ready = true) => ({ metadata: { name }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } }) as unknown as Node;
const lb = (name: string, ip: string, etp = 'Cluster') => ({ metadata: { namespace: 'default', name }, spec: { type: 'LoadBalancer', externalTrafficPolicy: etp }, status: { loadBalancer: { ingress: [{ ip }] } } }) as unknown as Service;
const slice = (svc: string, nodes: string[]) => ({ metadata: { namespace: 'default', name: `${svc}-x`, labels: { 'kubernetes.io/service-name': svc } }, endpoints: nodes.map((n, i) => ({ addresses: [`10.244.0.${i + 2}`], nodeName: n, conditions: { ready: true } })) }) as unknown as EndpointSlice;

describe('LoadBalancer IPs', () => {
  it('expands a pool and refuses a bad one with a clear message', () => {
    assert.deepEqual(poolAddresses('192.168.49.254-192.168.50.1'), ['192.168.49.254', '192.168.49.255', '192.168.50.0', '192.168.50.1']);
    assert.throws(() => poolAddresses('192.168.49.200/29'), /invalid LoadBalancer pool "192\.168\.49\.200\/29": expected FIRST-LAST/);
    assert.throws(() => poolAddresses('192.168.49.9-192.168.49.1'), /LAST must follow FIRST/);
  });

  it('picks one Ready node per address, the same whatever the order, and only nodes with endpoints for Local', () => {
    const nodes = [node('a'), node('b'), node('c'), node('down', false)];
    const svcs = [lb('one', '192.168.49.200'), lb('two', '192.168.49.201'), lb('local', '192.168.49.202', 'Local')];
    const slices = [slice('local', ['c'])];
    const first = announcements(svcs, slices, nodes);
    assert.deepEqual(announcements([...svcs].reverse(), slices, [...nodes].reverse()).sort((x, y) => (x.ip < y.ip ? -1 : 1)), first.sort((x, y) => (x.ip < y.ip ? -1 : 1)));
    assert.equal(first.length, 3);
    assert.ok(first.every((a) => a.node !== 'down'));
    assert.equal(first.find((a) => a.ip === '192.168.49.202')!.node, 'c');
    assert.deepEqual(announcements([lb('local', '192.168.49.202', 'Local')], [], nodes), [], 'Local without endpoints: nobody answers');
  });
});
