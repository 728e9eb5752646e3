// The node's network daemon (src/cni): the masquerade rule (in src/iptables' fake), the commands it
// runs through the executor for a set of Nodes — host-gw routes or the VXLAN device and per-peer
// neighbour, FDB and route entries, their removal —, net-conf.json, the Node annotations and the
// daemon's reaction to Node events; and the node agent's LoadBalancer IPs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node } from '../../src/api/types.ts';
import { NetworkDaemon, nodeAnnotations } from '../../src/cni/daemon.ts';
import { parseNetConf } from '../../src/cni/netconf.ts';
import { masqueradeComment, PodNetwork } from '../../src/cni/network.ts';
import type { FlannelBackend } from '../../src/cni/routes.ts';
import { FakeExecutor } from '../../src/exec/fake.ts';
import { FakeIptables } from '../../src/iptables/index.ts';

const node = (name: string, ip: string, podCIDR?: string): Node => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: podCIDR ? { podCIDR } : {}, status: { addresses: [{ type: 'InternalIP', address: ip }], conditions: [{ type: 'Ready', status: 'True' }] } });
const self = node('n1', '192.168.49.2', '10.244.0.0/24');
const n2 = node('n2', '192.168.49.3', '10.244.1.0/24');
const n3 = node('n3', '192.168.49.4', '10.244.2.0/24');

function network(backend: FlannelBackend, ex = new FakeExecutor()) {
  const logs: string[] = [];
  const iptables = new FakeIptables();
  const net = new PodNetwork({ nodeName: 'n1', nodeIP: '192.168.49.2', clusterCIDR: '10.244.0.0/16', backend, log: (s: string) => void logs.push(s) }, ex, iptables);
  const argv = () => ex.calls.map((c) => c.argv.join(' '));
  return { net, ex, iptables, logs, argv };
}

describe('pod network (the network daemon)', () => {
  it('adds the masquerade rule for traffic leaving the cluster network only when it is missing, after the rules already there', () => {
    const rule = { chain: 'POSTROUTING', args: ['-s', '10.244.0.0/16', '!', '-d', '10.244.0.0/16', '-m', 'comment', '--comment', masqueradeComment, '-j', 'MASQUERADE'] };
    const { net, iptables, argv } = network('host-gw');
    const earlier = { chain: 'POSTROUTING', args: ['-m', 'comment', '--comment', 'kubernetes postrouting rules', '-j', 'RETURN'] };
    iptables.ensureRule('append', 'nat', 'POSTROUTING', earlier.args);
    net.ensureMasquerade();
    net.ensureMasquerade();
    assert.deepEqual(iptables.rules('nat', 'POSTROUTING'), [earlier, rule], 'appended once');
    assert.deepEqual(argv(), [], 'nothing else run for it');
  });

  it('host-gw: a route to each peer\'s pod CIDR via its InternalIP, once this node has its own CIDR', () => {
    const { net, argv } = network('host-gw');
    net.peerChanged(n2);
    assert.deepEqual(argv(), [], 'no own pod CIDR yet');
    net.setPodCIDR('10.244.0.0/24');
    for (const n of [n2, n3, node('n4', '192.168.49.5')]) net.peerChanged(n);
    net.peerChanged(n2);
    assert.deepEqual(argv(), ['ip route replace 10.244.1.0/24 via 192.168.49.3', 'ip route replace 10.244.2.0/24 via 192.168.49.4'], 'a node without a pod CIDR gets no route, an unchanged one no command');
  });

  it('host-gw: a peer that moved is removed then added again; a peer gone is removed', () => {
    const { net, argv, ex } = network('host-gw');
    net.setPodCIDR('10.244.0.0/24');
    net.peerChanged(n2);
    ex.calls.length = 0;
    net.peerChanged(node('n2', '192.168.49.9', '10.244.1.0/24'));
    net.peerGone(n2);
    net.peerGone(n3);
    assert.deepEqual(argv(), ['ip route del 10.244.1.0/24', 'ip route replace 10.244.1.0/24 via 192.168.49.9', 'ip route del 10.244.1.0/24']);
  });

  it('vxlan: a fresh device for this node\'s CIDR, then per peer a permanent neighbour, an FDB entry and an onlink route', () => {
    const { net, argv } = network('vxlan');
    net.setPodCIDR(self.spec!.podCIDR!);
    net.peerChanged(n2);
    assert.deepEqual(argv(), [
      'ip link show podpath.1',
      'ip link del podpath.1',
      'ip link add podpath.1 address 0a:58:c0:a8:31:02 type vxlan id 1 local 192.168.49.2 dev eth0 dstport 8472 nolearning',
      'ip link set podpath.1 mtu 1450 up',
      'ip addr replace 10.244.0.0/32 dev podpath.1',
      'ip neigh replace 10.244.1.0 lladdr 0a:58:c0:a8:31:03 dev podpath.1 nud permanent',
      'bridge fdb replace 0a:58:c0:a8:31:03 dev podpath.1 dst 192.168.49.3 self permanent',
      'ip route replace 10.244.1.0/24 via 10.244.1.0 dev podpath.1 onlink',
    ]);
  });

  it('vxlan: forgetting a peer removes its route, FDB entry and neighbour, tolerating ones already gone', () => {
    const ex = new FakeExecutor().on('bridge', (a) => (a[1] === 'del' ? { status: 2, stderr: 'RTNETLINK answers: No such file or directory' } : ''));
    const { net, argv } = network('vxlan', ex);
    net.setPodCIDR('10.244.0.0/24');
    net.peerChanged(n2);
    ex.calls.length = 0;
    net.peerGone(n2);
    assert.deepEqual(argv(), ['ip route del 10.244.1.0/24', 'bridge fdb del 0a:58:c0:a8:31:03 dev podpath.1 dst 192.168.49.3 self', 'ip neigh del 10.244.1.0 dev podpath.1']);
  });

  it('logs a peer it cannot route to, and tries again on the next change', () => {
    let fail = true;
    const ex = new FakeExecutor().on('ip', () => (fail ? { status: 2, stderr: 'Nexthop has invalid gateway' } : ''));
    const { net, logs, argv } = network('host-gw', ex);
    net.setPodCIDR('10.244.0.0/24');
    net.peerChanged(n2);
    assert.match(logs.find((l) => l.startsWith('route to'))!, /^route to 10\.244\.1\.0\/24 on n2: ip route replace .* failed \(2\): Nexthop has invalid gateway$/);
    fail = false;
    net.peerChanged(n2);
    assert.deepEqual(argv(), ['ip route replace 10.244.1.0/24 via 192.168.49.3', 'ip route replace 10.244.1.0/24 via 192.168.49.3']);
  });

});

describe('net-conf.json', () => {
  it("reads flannel's Network and Backend.Type (vxlan when no backend is named)", () => {
    assert.deepEqual(parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "host-gw"}}'), { network: '10.244.0.0/16', backend: 'host-gw' });
    assert.deepEqual(parseNetConf('{"Network": "10.244.0.0/16"}'), { network: '10.244.0.0/16', backend: 'vxlan' });
  });

  it('names what is wrong', () => {
    assert.throws(() => parseNetConf('{', '/etc/kube-flannel/net-conf.json'), /^Error: \/etc\/kube-flannel\/net-conf\.json: not JSON/);
    assert.throws(() => parseNetConf('{"Backend": {"Type": "vxlan"}}'), /"Network" \(the pod network, e\.g\. "10\.244\.0\.0\/16"\) is missing/);
    assert.throws(() => parseNetConf('{"Network": "fd00::/64"}'), /"Network" "fd00::\/64" is not an IPv4 CIDR/);
    assert.throws(() => parseNetConf('{"Network": "10.244.0.0/16", "Backend": {"Type": "ipip"}}'), /backend type "ipip" is not supported \(host-gw, vxlan\)/);
  });
});

describe('network daemon', () => {
  const conf = { network: '10.244.0.0/16', backend: 'vxlan' as const };
  function daemon(nodes: Node[]) {
    const ex = new FakeExecutor();
    const patches: { path: string; body: unknown }[] = [];
    const logs: string[] = [];
    const client = { request: async (_m: string, path: string, body?: unknown) => void patches.push({ path, body }) as never };
    const d = new NetworkDaemon({ nodeName: 'n1', netConf: conf, ipMasq: true, log: (s) => void logs.push(s) }, client, ex);
    const argv = () => ex.calls.map((c) => c.argv.join(' '));
    return { d, ex, patches, logs, argv, all: () => nodes };
  }

  it('waits for its own Node\'s pod CIDR, then makes its device, routes the peers seen before, and annotates its Node as flanneld does', async () => {
    const { d, patches, argv, all, logs } = daemon([self, n2, n3]);
    await d.nodeChanged(n2, all);
    await d.nodeChanged(node('n1', '192.168.49.2'), all);
    assert.deepEqual(argv(), [], 'nothing before this node has a pod CIDR');
    await d.nodeChanged(self, all);
    const cmds = argv();
    assert.ok(cmds.some((c) => c.startsWith('ip link add podpath.1 ')), 'the VXLAN device');
    assert.deepEqual(cmds.filter((c) => c.startsWith('ip route')), ['ip route replace 10.244.1.0/24 via 10.244.1.0 dev podpath.1 onlink', 'ip route replace 10.244.2.0/24 via 10.244.2.0 dev podpath.1 onlink']);
    assert.deepEqual(patches, [{ path: '/api/v1/nodes/n1', body: { metadata: { annotations: nodeAnnotations(conf, '192.168.49.2') } } }]);
    assert.deepEqual(nodeAnnotations(conf, '192.168.49.2'), {
      'flannel.alpha.coreos.com/backend-data': '{"VNI":1,"VtepMAC":"0a:58:c0:a8:31:02"}',
      'flannel.alpha.coreos.com/backend-type': 'vxlan',
      'flannel.alpha.coreos.com/kube-subnet-manager': 'true',
      'flannel.alpha.coreos.com/public-ip': '192.168.49.2',
    });
    assert.ok(logs.some((l) => l === 'Subnet added: 10.244.1.0/24 via 192.168.49.3 (node n2)'), logs.join('\n'));
    await d.nodeChanged({ ...self, metadata: { name: 'n1', annotations: nodeAnnotations(conf, '192.168.49.2') } }, all);
    assert.equal(patches.length, 1, 'annotations already there are not written again');
  });

  it('forgets a peer that is gone', async () => {
    const { d, ex, argv, all } = daemon([self, n2]);
    await d.nodeChanged(self, all);
    ex.calls.length = 0;
    d.nodeGone(n2);
    assert.equal(argv()[0], 'ip route del 10.244.1.0/24');
  });
});
