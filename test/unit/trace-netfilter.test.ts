// The netfilter walkers on small rule sets: jumps, gotos and RETURN, a random cascade's shares,
// DNAT and MASQUERADE rewriting the tuple, marks, REJECT and DROP, the destination index of long
// chains, nftables verdict maps (named and anonymous), numgen, and nft rule text read into statements.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDump } from '../../src/iptables/index.ts';
import type { Ruleset } from '../../src/knftables/index.ts';
import { IptablesWalker } from '../../src/trace/iptables.ts';
import { walkHook, type Branch, type PacketState } from '../../src/trace/netfilter.ts';
import { NftablesWalker } from '../../src/trace/nftables.ts';
import { parseRuleText } from '../../src/trace/nfttext.ts';

const pkt = (dst: string, dstPort: number, src = '192.168.49.100') => ({ protocol: 'tcp' as const, src, srcPort: 40000, dst, dstPort });
const state = (p: ReturnType<typeof pkt>, extra: Partial<PacketState> = {}): PacketState => ({ pkt: p, mark: 0, ctNew: true, dnat: false, ...extra });
const view = { localIPs: new Set(['192.168.49.2']) };

describe('iptables walker', () => {
  const nat = `*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:SVC - [0:0]
:SEP-A - [0:0]
:SEP-B - [0:0]
:SEP-C - [0:0]
:MARK-MASQ - [0:0]
:CHECK - [0:0]
:POST - [0:0]
-A PREROUTING -j CHECK
-A PREROUTING -d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j SVC
-A CHECK -s 192.168.49.100/32 -j RETURN
-A CHECK -j DROP
-A SVC -j MARK-MASQ
-A SVC -m statistic --mode random --probability 0.33333333349 -j SEP-A
-A SVC -m statistic --mode random --probability 0.50000000000 -j SEP-B
-A SVC -j SEP-C
-A SEP-A -p tcp -j DNAT --to-destination 10.244.0.5:8080
-A SEP-B -p tcp -j DNAT --to-destination 10.244.0.6:8080
-A SEP-C -p tcp -j DNAT --to-destination 10.244.1.7:8080
-A MARK-MASQ -j MARK --or-mark 0x4000
-A POSTROUTING -g POST
-A POST -m mark ! --mark 0x4000/0x4000 -j RETURN
-A POST -j MASQUERADE
COMMIT
`;
  const w = new IptablesWalker(parseDump(nat));

  it('follows jumps and RETURN, lists every endpoint of a random cascade with 1/n and takes the chosen one', () => {
    let seen: Branch[] = [];
    const r = walkHook([w], 'prerouting', state(pkt('10.96.0.1', 80)), view, (b) => ((seen = b), 2));
    assert.equal(r.verdict, 'accept');
    assert.deepEqual(seen.map((b) => [b.ip, b.port, b.chain]), [['10.244.0.5', 8080, 'SEP-A'], ['10.244.0.6', 8080, 'SEP-B'], ['10.244.1.7', 8080, 'SEP-C']]);
    for (const b of seen) assert.ok(Math.abs(b.probability - 1 / 3) < 1e-6, `${b.probability}`);
    assert.deepEqual(r.state.pkt, pkt('10.244.1.7', 8080));
    assert.equal(r.state.mark, 0x4000);
    assert.equal(r.state.dnat, true);
    // CHECK returned without acting beyond its RETURN; SVC → MARK-MASQ → SEP-C → DNAT
    assert.deepEqual(r.hits.map((h) => `${h.chain}:${h.action}`), ['PREROUTING:jump', 'CHECK:return', 'PREROUTING:jump', 'SVC:jump', 'MARK-MASQ:mark', 'SVC:jump', 'SEP-C:dnat']);
  });

  it('drops what its RETURN lets through nowhere else', () => {
    const r = walkHook([w], 'prerouting', state(pkt('10.96.0.1', 80, '10.0.0.9')), view, () => 0);
    assert.equal(r.verdict, 'drop');
    assert.equal(r.hits.at(-1)!.text, '-A CHECK -j DROP');
  });

  it('masquerades marked traffic in postrouting (after a goto) to the outgoing address, and not unmarked traffic', () => {
    const marked = walkHook([w], 'postrouting', state(pkt('10.244.0.5', 8080), { mark: 0x4000, oif: 'cni0', oifAddress: '10.244.0.1' }), view, () => 0);
    assert.equal(marked.state.pkt.src, '10.244.0.1');
    assert.equal(marked.hits.at(-1)!.action, 'masquerade');
    const plain = walkHook([w], 'postrouting', state(pkt('10.244.0.5', 8080), { oif: 'cni0', oifAddress: '10.244.0.1' }), view, () => 0);
    assert.equal(plain.state.pkt.src, '192.168.49.100');
  });

  it('skips nat for packets after the first', () => {
    const r = walkHook([w], 'prerouting', state(pkt('10.96.0.1', 80), { ctNew: false }), view, () => 0);
    assert.deepEqual(r.hits, []);
  });

  it('REJECTs in filter with the comment kept', () => {
    const f = new IptablesWalker(parseDump(`*filter
:OUTPUT ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
-A OUTPUT -m conntrack --ctstate NEW -j KUBE-SERVICES
-A KUBE-SERVICES -m comment --comment "ns/svc has no endpoints" -m tcp -p tcp -d 10.96.0.9 --dport 80 -j REJECT
COMMIT
`));
    const r = walkHook([f], 'output', state(pkt('10.96.0.9', 80)), view, () => 0);
    assert.equal(r.verdict, 'reject');
    assert.equal(r.hits.at(-1)!.comment, 'ns/svc has no endpoints');
  });

  it('indexes a long chain by destination and still keeps kernel order with the rules it cannot index', () => {
    const lines = ['*nat', ':PREROUTING ACCEPT [0:0]', ':KUBE-SERVICES - [0:0]', ':HIT - [0:0]', ':FIRST - [0:0]', '-A PREROUTING -j KUBE-SERVICES'];
    for (let i = 0; i < 500; i++) lines.push(`-A KUBE-SERVICES -d 10.96.${i >> 8}.${i & 255} -p tcp -m tcp --dport 80 -j HIT`);
    lines.splice(lines.length - 100, 0, '-A KUBE-SERVICES -s 192.168.49.0/24 -d 10.96.1.144 -j FIRST');
    lines.push('-A HIT -j MARK --or-mark 0x1', '-A FIRST -j MARK --or-mark 0x2', '-A FIRST -j ACCEPT', 'COMMIT', '');
    const big = new IptablesWalker(parseDump(lines.join('\n')));
    const a = walkHook([big], 'prerouting', state(pkt('10.96.0.7', 80)), view, () => 0);
    assert.equal(a.state.mark, 1);
    assert.match(a.hits[1]!.text, /-d 10\.96\.0\.7\/32|-d 10\.96\.0\.7 /);
    // 10.96.1.144 is rule 400, after the unindexed -s rule at 400 − 1: the -s rule wins, as in the kernel
    const b = walkHook([big], 'prerouting', state(pkt('10.96.1.144', 80)), view, () => 0);
    assert.equal(b.state.mark, 2);
  });
});

describe('nftables walker', () => {
  const rs: Ruleset = {
    tables: [{ kind: 'table', family: 'ip', name: 't' }],
    chains: [
      { kind: 'chain', family: 'ip', table: 't', name: 'pre', type: 'nat', hook: 'prerouting', priority: -100 },
      { kind: 'chain', family: 'ip', table: 't', name: 'fwd', type: 'filter', hook: 'forward', priority: 0 },
      { kind: 'chain', family: 'ip', table: 't', name: 'services' },
      { kind: 'chain', family: 'ip', table: 't', name: 'svc' },
      { kind: 'chain', family: 'ip', table: 't', name: 'ep-a' },
      { kind: 'chain', family: 'ip', table: 't', name: 'ep-b' },
      { kind: 'chain', family: 'ip', table: 't', name: 'ep-c' },
      { kind: 'chain', family: 'ip', table: 't', name: 'mark-masq' },
      { kind: 'chain', family: 'ip', table: 't', name: 'reject-chain' },
    ],
    rules: [
      { kind: 'rule', family: 'ip', table: 't', chain: 'pre', rule: 'jump services' },
      { kind: 'rule', family: 'ip', table: 't', chain: 'services', rule: 'ip daddr . meta l4proto . th dport vmap @service-ips' },
      { kind: 'rule', family: 'ip', table: 't', chain: 'svc', rule: 'ip daddr 10.96.0.1 ip saddr != 10.244.0.0/16 jump mark-masq' },
      { kind: 'rule', family: 'ip', table: 't', chain: 'svc', rule: 'numgen random mod 3 vmap { 0 : goto ep-a , 1 : goto ep-b , 2 : goto ep-c }' },
      { kind: 'rule', family: 'ip', table: 't', chain: 'ep-a', rule: 'meta l4proto tcp dnat to 10.244.0.5:8080' },
      { kind: 'rule', family: 'ip', table: 't', chain: 'ep-b', rule: 'meta l4proto tcp dnat to 10.244.0.6:8080' },
      { kind: 'rule', family: 'ip', table: 't', chain: 'ep-c', rule: 'meta l4proto tcp dnat to 10.244.1.7:8080' },
      { kind: 'rule', family: 'ip', table: 't', chain: 'mark-masq', rule: 'mark set mark or 0x4000' },
      { kind: 'rule', family: 'ip', table: 't', chain: 'fwd', rule: 'ct state new ip daddr . meta l4proto . th dport vmap @no-endpoint-services' },
      { kind: 'rule', family: 'ip', table: 't', chain: 'fwd', rule: 'ip daddr { 10.96.0.0/12 } drop', comment: 'Drop traffic to unallocated ClusterIPs' },
      { kind: 'rule', family: 'ip', table: 't', chain: 'reject-chain', rule: 'reject' },
    ],
    sets: [],
    maps: [
      { kind: 'map', family: 'ip', table: 't', name: 'service-ips', type: 'ipv4_addr . inet_proto . inet_service : verdict' },
      { kind: 'map', family: 'ip', table: 't', name: 'no-endpoint-services', type: 'ipv4_addr . inet_proto . inet_service : verdict' },
    ],
    elements: [
      { kind: 'element', family: 'ip', table: 't', map: 'service-ips', key: ['10.96.0.1', 'tcp', '80'], value: ['goto svc'] },
      { kind: 'element', family: 'ip', table: 't', map: 'no-endpoint-services', key: ['10.96.0.9', 'tcp', '80'], value: ['goto reject-chain'], comment: 'ns/empty' },
    ],
    flowtables: [],
  };
  const w = new NftablesWalker(rs);

  it('looks the Service up in the verdict map, branches with numgen (1/3 each) and DNATs', () => {
    let seen: Branch[] = [];
    const r = walkHook([w], 'prerouting', state(pkt('10.96.0.1', 80)), view, (b) => ((seen = b), 1));
    assert.deepEqual(seen.map((b) => [b.ip, b.probability]), [['10.244.0.5', 1 / 3], ['10.244.0.6', 1 / 3], ['10.244.1.7', 1 / 3]]);
    assert.deepEqual(r.state.pkt, pkt('10.244.0.6', 8080));
    assert.equal(r.state.mark, 0x4000);
    assert.deepEqual(r.hits.map((h) => `${h.chain}:${h.action}`), ['pre:jump', 'services:goto', 'svc:jump', 'mark-masq:mark', 'svc:goto', 'ep-b:dnat']);
    assert.equal(r.hits[1]!.detail, '@service-ips[10.96.0.1 . tcp . 80] → goto svc');
  });

  it('lets a packet whose key is in no map element through, and rejects one to a Service without endpoints', () => {
    const miss = walkHook([w], 'prerouting', state(pkt('10.96.0.2', 80)), view, () => 0);
    assert.deepEqual(miss.hits, []);
    const r = walkHook([w], 'forward', state(pkt('10.96.0.9', 80)), view, () => 0);
    assert.equal(r.verdict, 'reject');
    assert.equal(r.hits[0]!.comment, 'ns/empty');
    assert.equal(r.hits.at(-1)!.chain, 'reject-chain');
    const d = walkHook([w], 'forward', state(pkt('10.96.5.5', 80)), view, () => 0);
    assert.equal(d.verdict, 'drop');
    assert.equal(d.hits[0]!.comment, 'Drop traffic to unallocated ClusterIPs');
  });

  it('reads kube-proxy rule text into the statements nft -j gives', () => {
    assert.deepEqual(parseRuleText('mark and 0x4000 == 0 return'), [
      { kind: 'match', op: '==', left: { kind: 'binop', op: '&', left: { kind: 'meta', key: 'mark' }, right: { kind: 'value', value: 0x4000 } }, right: { kind: 'value', value: 0 } },
      { kind: 'verdict', verdict: { type: 'return' } },
    ]);
    assert.deepEqual(parseRuleText('ct state new jump firewall-check'), [
      { kind: 'match', op: 'in', left: { kind: 'ct', key: 'state' }, right: { kind: 'value', value: 'new' } },
      { kind: 'verdict', verdict: { type: 'jump', target: 'firewall-check' } },
    ]);
    assert.deepEqual(parseRuleText('fib saddr type local jump mark-for-masquerade')[0], { kind: 'match', op: '==', left: { kind: 'fib', result: 'type', flags: ['saddr'] }, right: { kind: 'value', value: 'local' } });
    assert.deepEqual(parseRuleText('masquerade fully-random'), [{ kind: 'nat', type: 'masquerade', flags: ['fully-random'] }]);
    assert.deepEqual(parseRuleText('ip saddr != { 203.0.113.0/25 , 5.6.7.8 } drop')[0], {
      kind: 'match',
      op: '!=',
      left: { kind: 'payload', protocol: 'ip', field: 'saddr' },
      right: { kind: 'set', items: [{ key: { kind: 'prefix', addr: '203.0.113.0', len: 25 } }, { key: { kind: 'value', value: '5.6.7.8' } }] },
    });
    assert.equal(parseRuleText('update @affinity-x { ip saddr }')[0]!.kind, 'setUpdate');
  });
});
