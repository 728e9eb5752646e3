// The observed half of `podpath trace --observe`, on what a real lab's kernel printed (seed 001,
// iptables mode on iptables-nft, one probe from the client to the NodePort; captured in
// test/fixtures/trace-observe): nft monitor trace and conntrack -E read, the probe's path joined
// through NAT, and the comparison with the path computed from the same node's rules — which
// agrees, and names what differs once the reports are changed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../helpers/apiserver.ts';
import { ClusterIndex } from '../../src/trace/cluster.ts';
import { compareObserved } from '../../src/trace/compare.ts';
import { FakeExecutor } from '../../src/exec/fake.ts';
import { capturedRules, kernelRulesOf, kernelTrace, readKernelRules, readNodeRules } from '../../src/trace/kernel.ts';
import { parseConntrackEvents, parseTraceEvents, traceTableText, traversals, subscribed, type ConntrackEvent, type TraceEvent } from '../../src/trace/nftrace.ts';
import { joinReports, nodesWithUnknownRules, watchedNamespaces, type Reports, type WatchedNamespace } from '../../src/trace/observe.ts';
import { readTraceState } from '../../src/trace/offline.ts';
import { parseProbe, probeArgv } from '../../src/trace/probe.ts';
import type { Packet } from '../../src/trace/types.ts';
import { labPlan } from './trace-helpers.ts';

const dir = path.join(repoRoot, 'test/fixtures/trace-observe');
const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
const table = 'podpath-trace-1';
const node = 'tl1';
const url = 'http://192.168.49.2:30080/api/v1/whoami';
const tuple: Packet = { protocol: 'tcp', src: '192.168.49.100', srcPort: 41000, dst: '192.168.49.2', dstPort: 30080 };
const answered = { pod: 'default/api-server-75c5c79c8c-vwr57', ip: '10.244.0.5' };

const kernel = new Map([[node, kernelRulesOf({ version: read('node-version.txt'), save: read('node-save.txt'), json: read('node-json.txt'), listing: read('node-listing.txt') }, 'iptables')]]);
const ix = new ClusterIndex(readTraceState([path.join(dir, 'objects.yaml')]), labPlan);
const namespaces = JSON.parse(read('namespaces.json')) as WatchedNamespace[];
const fileOf = (place: string) => place.replace(/\//g, '_');

function reports(edit: (place: string, text: string) => string = (_, t) => t, ct: (text: string) => string = (t) => t): Reports {
  const events = new Map<string, TraceEvent[]>();
  const conntrack = new Map<string, ConntrackEvent[]>();
  for (const ns of namespaces) {
    const f = path.join(dir, `trace-${fileOf(ns.place)}.txt`);
    events.set(ns.netns, parseTraceEvents(edit(ns.place, fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '')));
    if (ns.node) conntrack.set(ns.netns, parseConntrackEvents(ct(read(`conntrack-${fileOf(ns.place)}.txt`))));
  }
  return { events, conntrack, text: new Map(), probe: JSON.parse(read('probe.json')), timeMs: 1 };
}

function observe(r: Reports) {
  const joined = joinReports(namespaces, r, tuple, kernel, table, (ip) => ix.podName(ip));
  const prefer = joined.endpoint ? [joined.endpoint.pod] : [];
  const computed = kernelTrace({ ix, mode: 'iptables', kernel }, { from: 'client', to: url, srcPort: tuple.srcPort, prefer });
  return compareObserved(computed, { ...joined, watched: namespaces.map((n) => n.place), timeMs: r.timeMs });
}

describe('nft monitor trace and conntrack -E, read', () => {
  it("reads a packet's walk: the packet's tuple and interfaces, each rule with its handle and verdict", () => {
    const ev = parseTraceEvents(read('trace-node_tl1.txt'));
    const first = ev[0]!;
    assert.equal(first.type, 'packet');
    assert.equal(first.table, table);
    assert.deepEqual(first.pkt, tuple);
    assert.equal(first.iif, 'eth0');
    const dnat = ev.find((e) => e.type === 'rule' && /dnat to/.test(e.text))!;
    assert.equal(dnat.chain.startsWith('KUBE-SEP-'), true);
    assert.equal(dnat.verdict, 'accept');
    assert.equal(typeof dnat.handle, 'number');
    assert.doesNotMatch(dnat.text, /handle|verdict/);
    const fwd = ev.find((e) => e.type === 'packet' && e.chain === 'FORWARD')!;
    assert.equal(fwd.oif, 'cni0');
    assert.equal(fwd.pkt!.dst, answered.ip);
    // one walk per packet marked: the SYN first, then the rest of the connection
    const walks = traversals(ev, { family: 'ip', table });
    assert.ok(walks.length > 1);
    assert.match(read('trace-node_tl1.txt').split('\n')[0]!, /tcp flags == syn/);
    assert.deepEqual(walks[0]!.pkt, tuple);
  });

  it('reads a new connection with the reply tuple NAT gave it', () => {
    const [c] = parseConntrackEvents(read('conntrack-node_tl1.txt'));
    assert.deepEqual(c!.original, tuple);
    assert.equal(c!.reply.src, answered.ip);
    assert.equal(c!.reply.dst, '10.244.0.1');
    assert.deepEqual(parseConntrackEvents('[NEW] udp      17 30 src=10.244.0.4 dst=10.96.0.10 sport=5353 dport=53 [UNREPLIED] src=10.244.0.2 dst=10.244.0.4 sport=53 dport=5353\n')[0]!.reply.src, '10.244.0.2');
  });

  it('marks the probe in a chain of its own ahead of every other table, rate-limited', () => {
    const t = traceTableText(table, ['prerouting', 'output'], { protocol: 'tcp', src: ['192.168.49.100'], dst: ['10.244.0.4', '192.168.49.2'], dstPort: [8080, 30080] });
    assert.match(t, /type filter hook prerouting priority -350; policy accept;/);
    assert.match(t, /type filter hook output priority -350; policy accept;/);
    assert.match(t, /ip saddr 192\.168\.49\.100 ip daddr \{ 10\.244\.0\.4, 192\.168\.49\.2 \} meta l4proto tcp tcp dport \{ 8080, 30080 \} limit rate 50\/second burst 50 packets meta nftrace set 1/);
  });

  it("knows a monitor listens by its socket's netlink group", () => {
    const table = 'sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n0000000000000000 12  4242       00000100 0        0        0     2        0        777\n0000000000000000 12  4243       00000001 0        0        0     2        0        778\n';
    assert.equal(subscribed(table, new Set(['777']), 1 << 8), true);
    assert.equal(subscribed(table, new Set(['778']), 1 << 8), false);
    assert.equal(subscribed(table, new Set(['778']), 1), true);
  });

  it('reads the probe program\'s report, and a failure from what it printed', () => {
    assert.deepEqual(parseProbe('{"timeMs":3.5,"ok":true,"remote":"10.0.0.1:80"}\n', ''), { timeMs: 3.5, ok: true, remote: '10.0.0.1:80' });
    assert.deepEqual(parseProbe('', 'nsenter: cannot open /run/netns/x: No such file or directory\n'), { ok: false, timeMs: 0, error: 'nsenter: cannot open /run/netns/x: No such file or directory' });
    assert.deepEqual(probeArgv({ protocol: 'udp', host: '10.96.0.10', port: 53, srcPort: 40053 }, 'node').slice(3), ['udp', '10.96.0.10', '53', '40053', '', '']);
    // a URL is curl's: its body, then what -w wrote
    const argv = probeArgv({ protocol: 'tcp', host: 'app.example.com', port: 443, srcPort: 41000, url: 'https://app.example.com/', ca: '/ca.crt' });
    assert.deepEqual([argv[0], ...argv.slice(-5, -2), argv.at(-1)], ['curl', '-o', '-', '-w', 'https://app.example.com/']);
    assert.ok(argv.includes('--local-port') && argv.includes('/ca.crt'));
    assert.deepEqual(parseProbe('{"pod":"a"}\n--podpath-probe 200 10.0.0.1 443 0.0045', ''), { ok: true, timeMs: 4.5, remote: '10.0.0.1:443', answer: 'HTTP 200 {"pod":"a"}' });
    assert.deepEqual(parseProbe('\n--podpath-probe 000 192.168.49.2 30081 0.001', 'curl: (7) Failed to connect to 192.168.49.2 port 30081 after 0 ms: Couldn\'t connect to server\n'), { ok: false, timeMs: 1, remote: '192.168.49.2:30081', error: "curl: (7) Failed to connect to 192.168.49.2 port 30081 after 0 ms: Couldn't connect to server" });
  });
});

describe('the probe program', () => {
  it('connects to a bare TCP port from the fixed source port and reports the peer it connected to', async () => {
    const server = net.createServer((c) => c.end('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    let peerPort = 0;
    server.on('connection', (c) => (peerPort = c.remotePort ?? 0));
    try {
      const srcPort = 40000 + Math.floor(Math.random() * 20000);
      const argv = probeArgv({ protocol: 'tcp', host: '127.0.0.1', port, srcPort });
      const r = await new Promise<{ out: string; err: string }>((resolve) => execFile(argv[0]!, argv.slice(1), (_e, out, err) => resolve({ out, err })));
      const p = parseProbe(r.out, r.err);
      assert.equal(p.ok, true, r.err);
      assert.equal(p.remote, `127.0.0.1:${port}`);
      assert.equal(p.answer, 'hello');
      assert.equal(peerPort, srcPort);
    } finally {
      server.close();
    }
  });
});

describe('the observed path beside the computed one', () => {
  it('follows the probe from the client through the node (DNAT and masquerade) to the pod that answered, and finds no difference', () => {
    const t = observe(reports());
    const o = t.observed!;
    assert.equal(o.verdict, 'delivered');
    assert.deepEqual(o.endpoint, { pod: answered.pod, ip: answered.ip, port: 8080 });
    assert.deepEqual(t.endpoint, o.endpoint);
    assert.deepEqual(o.differences, []);
    const probe = JSON.parse(o.probe.answer!.replace(/^HTTP 200 /, '')) as { pod: string; client: string };
    assert.equal(`default/${probe.pod}`, o.endpoint!.pod);
    // the kernel's source port after MASQUERADE is the one the pod saw
    const ct = o.hops.find((h) => h.kind === 'conntrack')!;
    assert.equal(`${ct.packet.after.src}:${ct.packet.after.srcPort}`, probe.client);
    // each observed rule is named as iptables-save prints it, and is a computed step
    const nf = o.hops.filter((h) => h.kind === 'netfilter');
    assert.ok(nf.length >= 10);
    for (const h of nf) {
      assert.match(h.rule!.text, /^-A /);
      assert.equal(t.hops[h.computed! - 1]!.rule!.text, h.rule!.text);
    }
    assert.deepEqual(t.hops.filter((h) => h.observed === false), []);
    assert.ok(t.hops.filter((h) => h.observed).length >= 12);
  });

  it('names a computed rule the kernel did not report, and a rule it reported that was not computed', () => {
    // the kernel's report without the masquerade mark's reset, and with a rule of another chain
    const t = observe(
      reports((place, text) =>
        place === `node/${node}`
          ? text
              .split('\n')
              .filter((l) => !/KUBE-POSTROUTING rule .*mark set mark xor/.test(l))
              .join('\n')
              .replace(/(trace id (\S+) ip filter FORWARD rule .*jump KUBE-FORWARD.*\n)/, '$1trace id $2 ip filter KUBE-FORWARD rule ct state invalid counter packets 0 bytes 0 drop # handle 999 (verdict continue)\n')
          : text,
      ),
    );
    const d = t.observed!.differences;
    assert.ok(d.some((x) => /^computed step \d+ was not seen: \[node tl1\] nat KUBE-POSTROUTING: -A KUBE-POSTROUTING -j MARK --set-xmark 0x4000\/0x0$/.test(x)), d.join('\n'));
    assert.ok(d.some((x) => /^seen, not computed: \[node tl1\] ip filter KUBE-FORWARD: ct state invalid/.test(x)), d.join('\n'));
    assert.equal(t.hops.filter((h) => h.observed === false).length, 1);
  });

  it('names a drop where the kernel dropped the packet, and another endpoint NAT chose', () => {
    const dropped = observe(reports((place, text) => (place === `node/${node}` ? text.replace(/(ip filter KUBE-FORWARD rule .*mark & 0x00004000 == 0x00004000 .*)accept # handle (\d+) \(verdict accept\)/, '$1drop # handle $2 (verdict drop)') : text)));
    assert.equal(dropped.observed!.verdict, 'dropped');
    assert.match(dropped.observed!.reason, /^dropped in node\/tl1 by filter KUBE-FORWARD: /);
    assert.ok(dropped.observed!.differences.some((x) => x.startsWith('computed verdict delivered, observed dropped')));
    // conntrack says the connection went to the other pod, whose namespace saw nothing
    const other = observe(reports(undefined, (text) => text.replace(/src=10\.244\.0\.5 dst=10\.244\.0\.1/, 'src=10.244.0.4 dst=10.244.0.1')));
    assert.equal(other.observed!.endpoint!.ip, '10.244.0.4');
    assert.equal(other.observed!.verdict, 'unknown');
    assert.ok(other.observed!.differences.some((x) => /^computed step \d+ \(conntrack at node tl1\) translates to/.test(x) || /was not seen/.test(x)), other.observed!.differences.join('\n'));
  });

  it('names a rule from the rules read after the probe when kube-proxy rewrote its chain between the reading and the probe', () => {
    // the reading before the probe saw nat KUBE-SERVICES under other handles (the chain was written again since)
    const json = JSON.parse(read('node-json.txt')) as { nftables: { rule?: { table: string; chain: string; handle: number } }[] };
    for (const o of json.nftables) if (o.rule?.table === 'nat' && o.rule.chain === 'KUBE-SERVICES') o.rule.handle += 100_000;
    let at = '';
    const listing = read('node-listing.txt')
      .split('\n')
      .map((l) => {
        const t = /^table \S+ (\S+) /.exec(l);
        const c = /^\tchain (\S+) /.exec(l);
        if (t) at = t[1]!;
        else if (c) at = `${at.split(' ')[0]} ${c[1]}`;
        else if (at === 'nat KUBE-SERVICES') return l.replace(/# handle (\d+)$/, (_, h: string) => `# handle ${Number(h) + 100_000}`);
        return l;
      })
      .join('\n');
    const before = new Map([[node, kernelRulesOf({ version: read('node-version.txt'), save: read('node-save.txt'), json: JSON.stringify(json), listing }, 'iptables')]]);
    const r = reports();
    assert.deepEqual(nodesWithUnknownRules(namespaces, r, before, table), [node]);
    assert.deepEqual(nodesWithUnknownRules(namespaces, r, kernel, table), []);
    const stale = joinReports(namespaces, r, tuple, before, table, (ip) => ix.podName(ip));
    const unnamed = stale.hops.filter((h) => h.kind === 'netfilter' && !h.rule!.text.startsWith('-A '));
    assert.ok(unnamed.length > 0 && unnamed.every((h) => h.rule!.chain === 'KUBE-SERVICES'));
    const joined = joinReports(namespaces, r, tuple, before, table, (ip) => ix.podName(ip), kernel);
    assert.deepEqual(
      joined.hops.filter((h) => h.kind === 'netfilter' && !h.rule!.text.startsWith('-A ')),
      [],
    );
    assert.deepEqual(joined.hops, joinReports(namespaces, r, tuple, kernel, table, (ip) => ix.podName(ip)).hops);
  });

  it("watches the source's output hook on the probe's own tuple, and every node and candidate pod on what the path may carry there", () => {
    const computed = kernelTrace({ ix, mode: 'iptables', kernel }, { from: 'client', to: url, srcPort: tuple.srcPort });
    const ns = watchedNamespaces(computed, { ix, mode: 'iptables', kernel, netnsOf: (p) => p }, tuple);
    assert.deepEqual(ns.map((n) => `${n.place} ${n.hooks.join(',')}`), ['client output', 'node/tl1 prerouting,input,output', 'pod/default/api-server-75c5c79c8c-j5sgl prerouting', 'pod/default/api-server-75c5c79c8c-vwr57 prerouting']);
    assert.deepEqual(ns[0]!.match, { protocol: 'tcp', src: ['192.168.49.100'], srcPort: 41000, dst: ['192.168.49.2'], dstPort: [30080] });
    assert.equal(ns[1]!.match.srcPort, undefined);
  });
});

describe("userspace mode: the proxy's own connection", () => {
  const udir = path.join(repoRoot, 'test/fixtures/trace-observe-userspace');
  const uread = (f: string) => fs.readFileSync(path.join(udir, f), 'utf8');
  const unode = 'tl3';
  const ukernel = new Map([[unode, capturedRules([{ text: uread('node-save.txt'), source: 'node-save.txt' }])]]);
  const uix = new ClusterIndex(readTraceState([path.join(udir, 'objects.yaml')]), labPlan);
  const uns = JSON.parse(uread('namespaces.json')) as WatchedNamespace[];

  it("joins the client's connection, accepted on the node, to the node's own connection on to the pod that answered", () => {
    const events = new Map<string, TraceEvent[]>();
    const conntrack = new Map<string, ConntrackEvent[]>();
    for (const ns of uns) {
      const f = path.join(udir, `trace-${fileOf(ns.place)}.txt`);
      events.set(ns.netns, parseTraceEvents(fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : ''));
      if (ns.node) conntrack.set(ns.netns, parseConntrackEvents(uread(`conntrack-${fileOf(ns.place)}.txt`)));
    }
    const r: Reports = { events, conntrack, text: new Map(), probe: JSON.parse(uread('probe.json')), timeMs: 1 };
    const joined = joinReports(uns, r, tuple, ukernel, table, (ip) => uix.podName(ip));
    const answer = JSON.parse(r.probe.answer!.replace(/^HTTP 200 /, '')) as { pod: string; podIP: string; client: string };
    assert.equal(joined.verdict, 'delivered');
    assert.deepEqual(joined.endpoint, { pod: `default/${answer.pod}`, ip: answer.podIP, port: 8080 });
    const proxy = joined.hops.find((h) => h.kind === 'proxy')!;
    assert.deepEqual(proxy.packet.before, tuple);
    // the pod saw the node's own connection, from cni0's address
    assert.equal(`${proxy.packet.after.src}:${proxy.packet.after.srcPort}`, answer.client);
    const computed = kernelTrace({ ix: uix, mode: 'userspace', kernel: ukernel }, { from: 'client', to: url, srcPort: tuple.srcPort, prefer: [joined.endpoint!.pod] });
    assert.ok(computed.notes?.[0]?.startsWith('userspace mode'));
    const t = compareObserved(computed, { ...joined, watched: uns.map((n) => n.place), timeMs: 1 });
    assert.deepEqual(t.observed!.differences, []);
    assert.deepEqual(t.hops.filter((h) => h.observed !== undefined).map((h) => [h.kind, h.observed]), [['proxy', true], ['deliver', true]]);
    // the other endpoint computed is a difference named as such
    const other = kernelTrace({ ix: uix, mode: 'userspace', kernel: ukernel }, { from: 'client', to: url, srcPort: tuple.srcPort, prefer: computed.candidates.filter((c) => !c.chosen).map((c) => c.pod) });
    assert.ok(compareObserved(other, { ...joined, watched: [], timeMs: 1 }).observed!.differences.some((d) => /the proxy on node tl3\) connects to/.test(d)));
  });
});

describe('captured rules (--node-rules)', () => {
  it('reads iptables-save, nft -j output and its text listing, and names a file that is none of them', () => {
    const ipt = capturedRules([{ text: read('node-save.txt'), source: 'save.txt' }]);
    assert.equal(ipt.walkers.length, 1);
    const json = capturedRules([{ text: read('node-json.txt'), source: 'ruleset.json' }]);
    assert.ok(json.nft.tables.some((t) => t.name === 'nat'));
    // the JSON alone has no rule text; with the listing each rule has nft's
    assert.equal(json.nft.rules.find((r) => r.table === 'nat' && r.chain === 'KUBE-NODEPORTS')!.rule, '');
    const both = capturedRules([{ text: read('node-json.txt'), source: 'ruleset.json' }, { text: read('node-listing.txt'), source: 'ruleset.txt' }]);
    assert.match(both.nft.rules.find((r) => r.table === 'nat' && r.chain === 'KUBE-NODEPORTS')!.rule, /tcp dport 30080/);
    assert.throws(() => capturedRules([{ text: 'hello\n', source: 'x.txt' }]), /x\.txt: not iptables-save output: line 1/);
    assert.throws(() => capturedRules([{ text: '{"nftables": []}', source: 'y.json' }]), /y\.json: not `nft -j list ruleset` output/);
    assert.throws(() => capturedRules([{ text: read('node-listing.txt'), source: 'z.txt' }]), /z\.txt: an nft listing gives the rules' text beside `nft -j list ruleset` JSON/);
  });

  it("reads a node's kernel through the exec layer in its namespace, and takes a host without nft as one without nftables tables", async () => {
    const ex = new FakeExecutor()
      .on('iptables', () => read('node-version.txt'))
      .on('iptables-save', () => read('node-save.txt'))
      .on('nft', (argv) => (argv[1] === '-j' ? read('node-json.txt') : read('node-listing.txt')));
    const k = await readKernelRules('pp-x-n1', 'iptables', ex);
    assert.equal(k.iptablesBackend, 'nf_tables');
    assert.deepEqual(ex.calls.map((c) => `${c.netns} ${c.argv.join(' ')}`).sort(), ['pp-x-n1 iptables --version', 'pp-x-n1 iptables-save', 'pp-x-n1 nft -a list ruleset', 'pp-x-n1 nft -j list ruleset']);
    // the walkers: iptables' tables from iptables-save, the other nftables tables (the NetworkPolicy agent's) from nft
    assert.equal((await readNodeRules('pp-x-n1', 'iptables', ex)).length, 2);
    const noNft = new FakeExecutor().on('iptables-save', () => read('node-save.txt')).on('nft', () => ({ status: 127, stderr: 'nsenter: failed to execute nft: No such file or directory' }));
    assert.equal((await readNodeRules('pp-x-n1', 'iptables', noNft)).length, 1);
    const broken = new FakeExecutor().on('iptables-save', () => ({ status: 1, stderr: 'iptables-save: Permission denied' }));
    await assert.rejects(readKernelRules('pp-x-n1', 'iptables', broken), /iptables-save in network namespace pp-x-n1 failed: iptables-save: Permission denied/);
  });
});
