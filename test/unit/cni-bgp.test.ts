// BGP routing (src/cni/bird.ts, bgp.ts): bird.conf rendered from the Nodes — golden text for the
// node-to-node mesh and for the route reflector and a client, each checked by `bird -p` where
// BIRD is installed —, `birdc show protocols` read back into sessions, and the daemon's reaction
// to Node changes (first configuration starts BIRD, a change reloads it, a heartbeat does nothing).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Node } from '../../src/api/types.ts';
import { BgpDaemon, type BirdProcess } from '../../src/cni/bgp.ts';
import { labTimers, parseShowProtocols, peersOf, renderBirdConf, type BgpNode } from '../../src/cni/bird.ts';
import { commandExists } from '../../src/exec/exec.ts';
import { FakeIptables } from '../../src/iptables/index.ts';
import { masqueradeComment } from '../../src/cni/network.ts';
import { repoRoot } from '../helpers/apiserver.ts';

const nodes: BgpNode[] = [
  { name: 'lab-m03', ip: '192.168.49.4', podCIDR: '10.244.2.0/24' },
  { name: 'lab', ip: '192.168.49.2', podCIDR: '10.244.0.0/24' },
  { name: 'lab-m02', ip: '192.168.49.3', podCIDR: '10.244.1.0/24' },
];
const opts = (routeReflector: boolean) => ({ asNumber: 64512, timers: labTimers, routeReflector });

function golden(file: string, text: string): void {
  const p = path.join(repoRoot, 'test/golden', file);
  if (process.env.PODPATH_UPDATE_GOLDEN) fs.writeFileSync(p, text);
  assert.equal(text, fs.readFileSync(p, 'utf8'));
  if (commandExists('bird')) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pptest-bird-'));
    fs.writeFileSync(path.join(dir, 'bird.conf'), text);
    const r = spawnSync('bird', ['-p', '-c', path.join(dir, 'bird.conf')], { encoding: 'utf8' });
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 0, `bird -p accepts ${file}: ${r.stderr}`);
  }
}

describe('bird.conf from the Nodes', () => {
  it('node-to-node mesh: the pod CIDR originated, a session to every other node in address order, short lab timers', () => {
    golden('bird-mesh-lab-m02.conf', renderBirdConf(nodes[2]!, nodes, opts(false)));
  });

  it('route reflector: the first node by address reflects to clients; every other node peers with it alone', () => {
    golden('bird-rr-lab.conf', renderBirdConf(nodes[1]!, nodes, opts(true)));
    golden('bird-rr-lab-m03.conf', renderBirdConf(nodes[0]!, nodes, opts(true)));
    assert.deepEqual(peersOf(nodes[0]!, nodes, true).map((p) => p.protocol), ['Node_192_168_49_2']);
    assert.deepEqual(peersOf(nodes[1]!, nodes, true).map((p) => p.protocol), ['RR_192_168_49_3', 'RR_192_168_49_4']);
  });

  it('a node without a pod CIDR yet originates nothing', () => {
    assert.doesNotMatch(renderBirdConf({ name: 'x', ip: '192.168.49.9' }, nodes, opts(false)), /blackhole/);
  });
});

describe('birdc show protocols', () => {
  it('reads the BGP sessions (mesh, to a reflector, to a client) with state, since and info, and skips the others', () => {
    const text = `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     23:59:13.236  
podcidr    Static     master4    up     23:59:13.236  
kernel1    Kernel     master4    up     23:59:13.236  
Mesh_192_168_49_2 BGP        ---        up     23:59:17.416  Established   
Mesh_192_168_49_4 BGP        ---        start  23:19:30.584  Active        BGP Error: Hold timer expired
Node_192_168_49_2 BGP        ---        up     2026-12-06 23:59:17  Established
RR_192_168_49_5 BGP        ---        start  23:19:18.120  Connect       Socket: No route to host
`;
    assert.deepEqual(parseShowProtocols(text), [
      { protocol: 'Mesh_192_168_49_2', peer: '192.168.49.2', kind: 'mesh', state: 'up', since: '23:59:17.416', info: 'Established' },
      { protocol: 'Mesh_192_168_49_4', peer: '192.168.49.4', kind: 'mesh', state: 'start', since: '23:19:30.584', info: 'Active        BGP Error: Hold timer expired' },
      { protocol: 'Node_192_168_49_2', peer: '192.168.49.2', kind: 'rr', state: 'up', since: '2026-12-06 23:59:17', info: 'Established' },
      { protocol: 'RR_192_168_49_5', peer: '192.168.49.5', kind: 'rr-client', state: 'start', since: '23:19:18.120', info: 'Connect       Socket: No route to host' },
    ]);
  });
});

class FakeBird implements BirdProcess {
  calls: string[] = [];
  readonly exited = new Promise<string>(() => {});
  async start(): Promise<void> {
    this.calls.push('start');
  }
  configure(): string {
    this.calls.push('configure');
    return 'Reconfigured';
  }
  async stop(): Promise<void> {
    this.calls.push('stop');
  }
}

const node = (n: BgpNode, ready = 'True'): Node => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: n.name }, spec: n.podCIDR ? { podCIDR: n.podCIDR } : {}, status: { addresses: [{ type: 'InternalIP', address: n.ip }], conditions: [{ type: 'Ready', status: ready }] } });

describe('the BGP daemon', () => {
  it('starts BIRD once this node has a pod CIDR, reloads it when nodes join or leave, and not on a heartbeat', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pptest-bgpd-'));
    try {
      const bird = new FakeBird();
      const iptables = new FakeIptables();
      const logs: string[] = [];
      const d = new BgpDaemon({ nodeName: 'lab', dir, clusterCIDR: '10.244.0.0/16', bird: opts(false), ipMasq: true, log: (s) => void logs.push(s) }, bird, iptables);
      await d.sync([node({ name: 'lab', ip: '192.168.49.2' })]);
      assert.deepEqual(bird.calls, [], 'no pod CIDR yet: nothing to originate, BIRD not started');
      await d.sync([node(nodes[1]!), node(nodes[2]!)]);
      assert.deepEqual(bird.calls, ['start']);
      const conf = fs.readFileSync(path.join(dir, 'bird.conf'), 'utf8');
      assert.match(conf, /route 10\.244\.0\.0\/24 blackhole;/);
      assert.match(conf, /protocol bgp Mesh_192_168_49_3 from podpath_peer/);
      assert.equal(iptables.rules('nat', 'POSTROUTING')?.[0]?.args.includes(masqueradeComment), true, 'masquerade for traffic leaving the pod network');
      await d.sync([node(nodes[1]!, 'False'), node(nodes[2]!)]);
      assert.deepEqual(bird.calls, ['start'], 'a status change alters nothing BIRD is told');
      await d.sync(nodes.map((n) => node(n)));
      assert.deepEqual(bird.calls, ['start', 'configure'], 'a node joined');
      assert.match(fs.readFileSync(path.join(dir, 'bird.conf'), 'utf8'), /Mesh_192_168_49_4/);
      await d.sync([node(nodes[1]!)]);
      assert.deepEqual(bird.calls, ['start', 'configure', 'configure'], 'nodes left');
      assert.doesNotMatch(fs.readFileSync(path.join(dir, 'bird.conf'), 'utf8'), /protocol bgp/);
      assert.match(logs.join('\n'), /Reconfigured BIRD: Reconfigured; peers: none/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
