// Service-link environment variables, as the Kubernetes documentation shows them for a Service
// redis-primary on TCP 6379 at 10.0.0.11, and as every pod sees the kubernetes Service.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Service } from '../../src/api/types.ts';
import { serviceLinkEnv, serviceLinksFor } from '../../src/agent/env.ts';

const svc = (namespace: string, name: string, clusterIP: string, ports: { name?: string; port: number; protocol?: string }[]): Service =>
  ({ apiVersion: 'v1', kind: 'Service', metadata: { namespace, name }, spec: { clusterIP, ports } }) as unknown as Service;

describe('service link environment', () => {
  it('matches the documented variables for redis-primary', () => {
    assert.deepEqual(serviceLinkEnv(svc('default', 'redis-primary', '10.0.0.11', [{ port: 6379, protocol: 'TCP' }])), {
      REDIS_PRIMARY_SERVICE_HOST: '10.0.0.11',
      REDIS_PRIMARY_SERVICE_PORT: '6379',
      REDIS_PRIMARY_PORT: 'tcp://10.0.0.11:6379',
      REDIS_PRIMARY_PORT_6379_TCP: 'tcp://10.0.0.11:6379',
      REDIS_PRIMARY_PORT_6379_TCP_PROTO: 'tcp',
      REDIS_PRIMARY_PORT_6379_TCP_PORT: '6379',
      REDIS_PRIMARY_PORT_6379_TCP_ADDR: '10.0.0.11',
    });
  });

  it('names ports, skips headless Services, and always includes the kubernetes Service', () => {
    const all = [
      svc('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443 }]),
      svc('shop', 'api-service', '10.96.0.20', [{ name: 'http', port: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }]),
      svc('shop', 'headless', 'None', [{ port: 80 }]),
      svc('other', 'elsewhere', '10.96.0.30', [{ port: 80 }]),
    ];
    const env = serviceLinksFor('shop', undefined, all);
    assert.equal(env.KUBERNETES_SERVICE_HOST, '10.96.0.1');
    assert.equal(env.KUBERNETES_SERVICE_PORT_HTTPS, '443');
    assert.equal(env.API_SERVICE_SERVICE_PORT, '8080');
    assert.equal(env.API_SERVICE_SERVICE_PORT_DNS, '53');
    assert.equal(env.API_SERVICE_PORT_53_UDP, 'udp://10.96.0.20:53');
    assert.equal(Object.keys(env).some((k) => k.startsWith('HEADLESS_') || k.startsWith('ELSEWHERE_')), false);
    const off = serviceLinksFor('shop', false, all);
    assert.equal(off.API_SERVICE_SERVICE_HOST, undefined, 'enableServiceLinks: false leaves only the kubernetes Service');
    assert.equal(off.KUBERNETES_SERVICE_HOST, '10.96.0.1');
  });
});
