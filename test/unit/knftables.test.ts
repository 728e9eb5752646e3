// src/knftables: transactions of typed objects rendered as knftables renders them (byte for byte
// the text podpath's nftables mode wrote by hand before it built these objects), the Fake's
// refusals and dump, the Interface over nft through the exec fake, and the reader of `nft -j`
// output captured from nft 1.0.6.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FakeExecutor } from '../../src/exec/fake.ts';
import { concat, Fake, NftError, Nftables, parsePriority, parseRuleset, readRuleset, Transaction, writeOperation, type Expr, type NftObject, type NftSet, type Statement } from '../../src/knftables/index.ts';
import { rulesInChainBlocks } from '../../src/knftables/cachefree.ts';
import { asStdinErrors } from '../../src/knftables/libnftables.ts';
import { deleteChains, planNftSync, renderNftables, type ServiceNft } from '../../src/proxy/nftables/render.ts';
import { repoRoot } from '../helpers/apiserver.ts';
import { sortNftables } from '../helpers/nft-sort.ts';
import { codeOf as codes } from '../fixtures/codes.ts';
import { ctx, elem, moreServices, rule, seed001 } from '../fixtures/kube-proxy-nft.ts';

const golden = (name: string) => fs.readFileSync(path.join(repoRoot, 'test/golden', name), 'utf8');
const fixture = (name: string) => fs.readFileSync(path.join(repoRoot, 'test/fixtures', name), 'utf8');

const codeOf = (f: () => void) => codes(f, NftError);

const loaded = () => {
  const fake = new Fake(ctx);
  fake.run(seed001());
  return fake;
};

describe('knftables transactions as nft -f text', () => {
  it('reproduces the nftables mode\'s seed 001 transaction byte for byte from typed objects', () => {
    const tx = seed001();
    assert.equal(tx.toString(), golden('proxy-nftables-seed-001.txt'));
    assert.equal(tx.numOperations, 90);
  });

  it('writes the nftables mode\'s deletes as it wrote them by hand: a stale Service\'s elements, chains and affinity sets, and nodeport-ips', () => {
    const chain = 'service-ULMVA6XW-ns1/svc1/tcp/p80';
    const aff = 'affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80';
    const svc1: ServiceNft = {
      chains: [{ chain: { kind: 'chain', name: chain }, rules: [] }],
      affinitySets: [{ kind: 'set', name: aff, type: 'ipv4_addr', flags: ['dynamic', 'timeout'], timeout: 10800 }],
      elements: [elem({ map: 'service-ips' }, ['172.30.0.41', 'tcp', '80'], [`goto ${chain}`])],
    };
    const prev = planNftSync({ services: new Map([['ns1/svc1', svc1]]), cfg: {} }).commit();
    const plan = planNftSync({ services: new Map(), changed: new Set(['ns1/svc1']), prev, cfg: {} });
    const tx = new Transaction(ctx)
      .delete(elem({ map: 'service-ips' }, ['172.30.0.41', 'tcp', '80']))
      .flush({ kind: 'chain', name: chain })
      .delete({ kind: 'set', name: aff });
    const byHand = `delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }\nflush chain ip kube-proxy ${chain}\ndelete set ip kube-proxy ${aff}\n`;
    assert.equal(plan.tx.toString(), byHand);
    assert.equal(tx.toString(), byHand);
    assert.equal(plan.tx.numOperations, 3);
    assert.equal(deleteChains(new Transaction(ctx), [chain]).toString(), `delete chain ip kube-proxy ${chain}\n`);
    // NodePorts on every local address: the set is added (so the delete cannot fail) and deleted
    const nodePortIPs: NftSet = { kind: 'set', name: 'nodeport-ips', type: 'ipv4_addr', comment: 'IPs that accept NodePort traffic' };
    const both = new Transaction(ctx).add(nodePortIPs).delete(nodePortIPs).toString();
    assert.equal(both, 'add set ip kube-proxy nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }\ndelete set ip kube-proxy nodeport-ips\n');
    assert.ok(renderNftables([], {}).includes(both));
  });

  it('writes every object and verb in knftables\' format', () => {
    const w = (verb: Parameters<typeof writeOperation>[0], obj: NftObject) => writeOperation(verb, obj, ctx);
    assert.equal(w('add', { kind: 'table' }), 'add table ip kube-proxy\n');
    assert.equal(w('add', { kind: 'table', flags: ['dormant'] }), 'add table ip kube-proxy { flags dormant ; }\n');
    assert.equal(w('delete', { kind: 'table', handle: 7 }), 'delete table ip handle 7\n');
    assert.equal(w('add', { kind: 'chain', name: 'c', type: 'nat', hook: 'output', priority: 'dstnat-10', policy: 'drop', comment: 'x' }), 'add chain ip kube-proxy c { type nat hook output priority -110 ; policy drop ; comment "x" ; }\n');
    assert.equal(w('add', { kind: 'chain', name: 'c', type: 'filter', hook: 'ingress', device: 'eth0', priority: 'odd' }), 'add chain ip kube-proxy c { type filter hook ingress device "eth0" priority odd ; }\n');
    assert.equal(w('delete', { kind: 'chain', name: 'c', comment: 'x' }), 'delete chain ip kube-proxy c\n');
    assert.equal(w('delete', { kind: 'chain', name: '', handle: 12 }), 'delete chain ip kube-proxy handle 12\n');
    assert.equal(w('add', { kind: 'rule', chain: 'c', rule: 'accept', index: 2 }), 'add rule ip kube-proxy c index 2 accept\n');
    assert.equal(w('replace', { kind: 'rule', chain: 'c', rule: 'drop', handle: 9, comment: 'why' }), 'replace rule ip kube-proxy c handle 9 drop comment "why"\n');
    assert.equal(w('delete', { kind: 'rule', chain: 'c', rule: 'ignored', handle: 9 }), 'delete rule ip kube-proxy c handle 9\n');
    assert.equal(
      w('add', { kind: 'set', name: 's', typeOf: 'ip saddr', flags: ['dynamic', 'timeout'], timeout: 10800, gcInterval: 60, size: 1000, policy: 'memory', autoMerge: true, comment: 'c' }),
      'add set ip kube-proxy s { typeof ip saddr ; flags dynamic,timeout ; timeout 10800s ; gc-interval 60s ; size 1000 ; policy memory ; auto-merge ; comment "c" ; }\n',
    );
    assert.equal(w('flush', { kind: 'map', name: 'm', type: 'ipv4_addr : verdict' }), 'flush map ip kube-proxy m\n');
    assert.equal(w('delete', elem({ map: 'm' }, ['1.2.3.4', 'tcp', '80'], ['drop'], 'ns/svc:p')), 'delete element ip kube-proxy m { 1.2.3.4 . tcp . 80 }\n');
    assert.equal(w('add', { kind: 'flowtable', name: 'ft', priority: 'filter', devices: ['eth0', 'eth1'] }), 'add flowtable ip kube-proxy ft { hook ingress priority filter ; devices = { eth0, eth1 } ; }\n');
    assert.equal(writeOperation('add', { kind: 'chain', family: 'inet', table: 'netpol', name: 'c' }), 'add chain inet netpol c\n');
    // comments as Go's %q writes them: as they are when plain, escaped when read back with what nft would not take
    assert.equal(w('add', rule('c', 'accept', 'ns/svc:p80 (a-b_c)')), 'add rule ip kube-proxy c accept comment "ns/svc:p80 (a-b_c)"\n');
    assert.equal(w('add', rule('c', 'accept', 'say "hi"\\\n\tä\x01\u200b')), 'add rule ip kube-proxy c accept comment "say \\"hi\\"\\\\\\n\\tä\\x01\\u200b"\n');
  });

  it('writes a transaction as the lines writeOperation writes, the bulk adds (written in pieces) included', () => {
    const objs: [Parameters<typeof writeOperation>[0], NftObject][] = [
      ['add', { kind: 'rule', chain: 'c', rule: 'ip saddr @s return' }],
      ['add', { kind: 'rule', chain: 'c', rule: 'accept', index: 2 }],
      ['add', rule('c', 'accept', 'why')],
      ['add', { kind: 'rule', chain: 'c', rule: 'drop', table: 'kube-proxy' }],
      ['add', { kind: 'element', set: 's', key: ['10.0.0.1'] }],
      ['add', { kind: 'element', set: 's', key: ['10.0.0.1', 'tcp', '80'] }],
      ['add', elem({ map: 'm' }, ['1.2.3.4', 'tcp', '80'], ['goto', 'svc'])],
      ['add', { kind: 'element', map: 'm', key: ['10.0.0.2'], value: ['jump x'] }],
      ['add', { kind: 'element', map: 'm', key: ['10.0.0.3'], value: ['10.0.0.4', '80'], comment: 'c' }],
      ['delete', { kind: 'element', set: 's', key: ['10.0.0.1'] }],
      ['create', { kind: 'element', set: 's', key: ['10.0.0.5'] }],
    ];
    // more than one chunk of pieces
    for (let i = 0; i < 1500; i++) objs.push(['add', { kind: 'element', set: 's', key: [`10.1.${i >> 8}.${i & 255}`] }]);
    const tx = new Transaction(ctx);
    for (const [verb, obj] of objs) tx[verb](obj);
    assert.equal(tx.error, undefined);
    assert.equal(tx.toString(), objs.map(([verb, obj]) => writeOperation(verb, obj, ctx)).join(''));
    assert.match(tx.toString(), /^add rule ip kube-proxy c ip saddr @s return\nadd rule ip kube-proxy c index 2 accept\n/);
    // a context without a table: objects name their own, and the lines are writeOperation's
    const bare = new Transaction({});
    bare.add({ kind: 'rule', family: 'inet', table: 't', chain: 'c', rule: 'accept' }).add({ kind: 'element', family: 'inet', table: 't', set: 's', key: ['1'] });
    assert.equal(bare.toString(), 'add rule inet t c accept\nadd element inet t s { 1 }\n');
  });

  it('numbers named priorities as knftables does, bridge family apart', () => {
    assert.equal(parsePriority('ip', 'dstnat'), -100);
    assert.equal(parsePriority('ip', 'srcnat+5'), 105);
    assert.equal(parsePriority('ip', 'dstnat - 10'), -110);
    assert.equal(parsePriority('bridge', 'dstnat'), -300);
    assert.equal(parsePriority('ip', '-150'), -150);
    assert.equal(parsePriority('ip', 'nonsense'), undefined);
  });

  it('joins rule pieces as knftables.Concat, with "@" glued to the set name', () => {
    assert.equal(concat('ip daddr', '@', 'cluster-ips', 'reject'), 'ip daddr @cluster-ips reject');
    assert.equal(concat('ip saddr != {', ['10.0.0.0/8', ',', '1.2.3.4'], '}', 'drop'), 'ip saddr != { 10.0.0.0/8 , 1.2.3.4 } drop');
    assert.equal(concat('tcp dport', 80, 'accept'), 'tcp dport 80 accept');
  });

  it('keeps the first invalid operation as the transaction\'s error, ignores later ones, and will not run', () => {
    const tx = new Transaction(ctx);
    tx.add({ kind: 'chain', name: 'ok' });
    tx.add({ kind: 'chain', name: 'regular', priority: 0 });
    tx.add({ kind: 'chain', name: 'later' });
    assert.equal(tx.numOperations, 1);
    assert.equal(tx.error?.code, 'EINVAL');
    assert.equal(tx.toString(), 'add chain ip kube-proxy ok\n# ERROR: regular chain "regular" must not specify Type or Priority');
    const fake = new Fake(ctx);
    assert.equal(codeOf(() => fake.run(tx)), 'EINVAL');
    assert.equal(fake.dump(), '', 'nothing was applied');

    const refused = (verb: 'add' | 'replace' | 'delete' | 'insert', obj: NftObject, t = new Transaction(ctx)) => {
      (t[verb] as (o: NftObject) => Transaction)(obj);
      return t.error?.message ?? 'accepted';
    };
    assert.match(refused('add', { kind: 'chain', name: 'b', type: 'filter', hook: 'input' }), /must specify Type and Priority/);
    assert.match(refused('replace', rule('c', 'accept')), /must specify Handle/);
    assert.match(refused('delete', rule('c', '')), /must specify Handle/);
    assert.match(refused('insert', { kind: 'chain', name: 'c' }), /not implemented for chains/);
    assert.match(refused('add', elem({ map: 'm' }, ['1.2.3.4'])), /no map value/);
    assert.match(refused('add', elem({ set: 's' }, ['1.2.3.4'], ['drop'])), /map value specified for set element/);
    assert.match(refused('add', { kind: 'set', name: 's' }), /either Type or TypeOf/);
    assert.match(refused('add', rule('c', 'accept', 'x'.repeat(129))), /comment too long, 128/);
    assert.equal(refused('add', rule('c', 'accept', 'x'.repeat(128))), 'accepted');
    assert.match(refused('add', rule('c', 'accept', 'say "hi"')), /cannot be quoted/);
    assert.match(refused('add', { kind: 'chain', table: 'other', name: 'c' }), /cannot override family or table/);
    assert.match(refused('add', { kind: 'chain', name: 'c' }, new Transaction()), /must specify family and table/);
  });

  it('writes destroy as add + delete where it must be emulated', () => {
    const set = { kind: 'set', name: 's', type: 'ipv4_addr' } as const;
    assert.equal(new Transaction(ctx).destroy(set).toString(), 'destroy set ip kube-proxy s\n');
    const emulated = new Transaction({ ...ctx, emulateDestroy: true }).destroy(set);
    assert.equal(emulated.toString(), 'add set ip kube-proxy s { type ipv4_addr ; }\ndelete set ip kube-proxy s\n');
    assert.match(new Transaction({ ...ctx, emulateDestroy: true }).destroy({ kind: 'rule', chain: 'c', rule: '', handle: 3 }).error?.message ?? '', /not compatible with EmulateDestroy/);
  });
});

describe('knftables rules in chain blocks (what spares nft 1.0.x reading every chain)', () => {
  const aff = 'affinity-X-ns1/svc1/tcp/p80__10.180.0.1/80';
  const partial = () =>
    new Transaction(ctx)
      .add({ kind: 'set', name: aff, type: 'ipv4_addr', flags: ['dynamic', 'timeout'], timeout: 10800 })
      .add({ kind: 'chain', name: 'svc' })
      .flush({ kind: 'chain', name: 'svc' })
      .add({ kind: 'chain', name: 'ep' })
      .flush({ kind: 'chain', name: 'ep' })
      .add(rule('svc', `ip saddr @${aff} goto ep`))
      .add(rule('svc', 'numgen random mod 1 vmap { 0 : goto ep }', 'one endpoint'))
      .add(rule('ep', 'meta l4proto tcp dnat to 10.180.0.2:80'))
      .flush({ kind: 'chain', name: 'stale' });

  it('writes a transaction of chains, flushes, sets and rules with each chain\'s rules in one block, in order', () => {
    assert.equal(
      rulesInChainBlocks(partial()),
      [
        `add set ip kube-proxy ${aff} { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }`,
        'add chain ip kube-proxy svc',
        'flush chain ip kube-proxy svc',
        'add chain ip kube-proxy ep',
        'flush chain ip kube-proxy ep',
        'add chain ip kube-proxy svc {',
        `ip saddr @${aff} goto ep`,
        'numgen random mod 1 vmap { 0 : goto ep } comment "one endpoint"',
        '}',
        'add chain ip kube-proxy ep {',
        'meta l4proto tcp dnat to 10.180.0.2:80',
        '}',
        'flush chain ip kube-proxy stale',
        '',
      ].join('\n'),
    );
  });

  it('leaves alone what would still need nft\'s whole cache, or would mean something else in a block', () => {
    const base = () => new Transaction(ctx).add({ kind: 'chain', name: 'c' });
    assert.equal(rulesInChainBlocks(new Transaction(ctx).add(rule('c', 'accept'))), undefined, 'a chain the transaction does not add (add rule needs it to exist)');
    assert.equal(rulesInChainBlocks(base().add(rule('c', 'ip saddr @other accept'))), undefined, 'a set the transaction does not declare');
    assert.equal(rulesInChainBlocks(base().add(rule('c', 'accept')).add(elem({ set: 'cluster-ips' }, ['10.0.0.1']))), undefined, 'an element');
    assert.equal(rulesInChainBlocks(base().add(rule('c', 'accept')).delete({ kind: 'chain', name: 'old' })), undefined, 'a delete');
    assert.equal(rulesInChainBlocks(base().add({ ...rule('c', 'accept'), index: 0 })), undefined, 'a rule by position');
    assert.equal(rulesInChainBlocks(base().insert(rule('c', 'accept'))), undefined, 'an insert');
    assert.equal(rulesInChainBlocks(base().add({ kind: 'table', comment: 'x' }).add(rule('c', 'accept'))), undefined, 'a table');
    assert.equal(rulesInChainBlocks(base().flush({ kind: 'chain', name: 'c' })), undefined, 'no rule: nothing to gain');
  });

  it('runs the blocks, and a transaction refused in that form again as written, with what nft says to that', () => {
    const ex = new FakeExecutor().on('nft', (_argv, opts) => (opts.input?.includes('{\n') ? { status: 1, stderr: 'Error: blocks refused\n' } : { status: 1, stderr: '/dev/stdin:6:1-3: Error: Could not process rule: No such file or directory\n' }));
    const nft = new Nftables({ ...ctx, executor: ex });
    assert.equal(codeOf(() => nft.run(partial())), 'ENOENT');
    assert.deepEqual(ex.calls.map((c) => c.input), [rulesInChainBlocks(partial()), partial().toString()]);
    const ok = new FakeExecutor().on('nft', () => '');
    new Nftables({ ...ctx, executor: ok }).run(partial());
    assert.deepEqual(ok.calls.map((c) => c.input), [rulesInChainBlocks(partial())], 'accepted: sent once');
  });
});

describe('knftables Fake', () => {
  it('holds what the seed transaction adds, dumped as knftables dumps (definitions, rules, elements, each by name)', () => {
    const fake = loaded();
    assert.equal(fake.lastOperations, 90);
    const dump = fake.dump();
    const adds = golden('proxy-nftables-seed-001.txt').split('\n').filter((l) => l.startsWith('add ')).join('\n');
    assert.equal(sortNftables(dump), sortNftables(adds), 'the same lines as the transaction\'s adds');
    const lines = dump.trimEnd().split('\n');
    assert.equal(lines[0], 'add table ip kube-proxy { comment "rules for kube-proxy" ; }');
    assert.equal(lines[1], 'add chain ip kube-proxy cluster-ips-check', 'chains sorted by name, base chains among them');
    const kinds = lines.map((l) => l.split(' ')[1]);
    assert.deepEqual([...new Set(kinds)], ['table', 'chain', 'set', 'map', 'rule', 'element']);
    assert.ok(lines.indexOf('add element ip kube-proxy cluster-ips { 10.96.0.20 }') < lines.indexOf('add element ip kube-proxy nodeport-ips { 192.168.49.2 }'));
    const rulesOf = (chain: string) => lines.filter((l) => l.startsWith(`add rule ip kube-proxy ${chain} `));
    assert.deepEqual(rulesOf('masquerading').map((l) => l.split('masquerading ')[1]), ['mark and 0x4000 == 0 return', 'mark set mark xor 0x4000', 'masquerade fully-random'], 'a chain keeps its rule order');
  });

  it('applies a second transaction on top; repeated, only its rules are added again (as nft appends them)', () => {
    const fake = loaded();
    fake.run(moreServices());
    const before = fake.dump();
    assert.match(before, /add set ip kube-proxy affinity-GTK6MW7G-ns5\/svc5\/tcp\/p80__10.180.0.3\/80 \{ type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; \}/);
    assert.match(before, /add element ip kube-proxy no-endpoint-services \{ 172.30.0.46 . tcp . 80 comment "ns6\/svc6:p80" : goto reject-chain \}/);
    fake.run(moreServices());
    const after = fake.dump().trimEnd().split('\n');
    const lines = before.trimEnd().split('\n');
    const isRule = (l: string) => l.startsWith('add rule ');
    assert.deepEqual(after.filter((l) => !isRule(l)), lines.filter((l) => !isRule(l)), 'chains, sets and elements (same values) are there already');
    const rulesIn = (ls: string[], chain: string) => ls.filter((l) => l.startsWith(`add rule ip kube-proxy ${chain} `)).length;
    assert.equal(rulesIn(after, 'firewall-HVFWP5L3-ns5/svc5/tcp/p80'), 2);
    assert.equal(rulesIn(after, 'services'), rulesIn(lines, 'services'));
  });

  const refusals: [string, string, (tx: Transaction) => void][] = [
    ['a rule in a missing chain', 'ENOENT', (tx) => tx.add(rule('nope', 'accept'))],
    ['a jump to a missing chain', 'ENOENT', (tx) => tx.add(rule('services', 'jump nope'))],
    ['a goto inside an anonymous vmap to a missing chain', 'ENOENT', (tx) => tx.add(rule('services', 'numgen random mod 2 vmap { 0 : goto services , 1 : goto nope }'))],
    ['a jump to a base chain', 'EOPNOTSUPP', (tx) => tx.add(rule('services', 'jump nat-output'))],
    ['a lookup in a missing set', 'ENOENT', (tx) => tx.add(rule('services', 'ip saddr @nope drop'))],
    ['a vmap on a missing map', 'ENOENT', (tx) => tx.add(rule('services', 'ip daddr vmap @nope'))],
    ['a vmap on a set', 'ENOENT', (tx) => tx.add(rule('services', 'ip daddr vmap @cluster-ips'))],
    ['a map element whose verdict names a missing chain', 'ENOENT', (tx) => tx.add(elem({ map: 'service-nodeports' }, ['tcp', '1'], ['goto nope']))],
    ['an element of a missing set', 'ENOENT', (tx) => tx.add(elem({ set: 'nope' }, ['1.2.3.4']))],
    ['deleting a missing chain', 'ENOENT', (tx) => tx.delete({ kind: 'chain', name: 'nope' })],
    ['deleting a missing set', 'ENOENT', (tx) => tx.delete({ kind: 'set', name: 'nope' })],
    ['deleting a missing element', 'ENOENT', (tx) => tx.delete(elem({ set: 'cluster-ips' }, ['9.9.9.9']))],
    ['deleting a missing rule', 'ENOENT', (tx) => tx.delete({ kind: 'rule', chain: 'services', rule: '', handle: 999 })],
    ['flushing a missing chain', 'ENOENT', (tx) => tx.flush({ kind: 'chain', name: 'nope' })],
    ['adding after a rule index past the end', 'ENOENT', (tx) => tx.add({ ...rule('services', 'accept'), index: 5 })],
    ['creating an existing table', 'EEXIST', (tx) => tx.create({ kind: 'table' })],
    ['creating an existing chain', 'EEXIST', (tx) => tx.create({ kind: 'chain', name: 'services' })],
    ['creating an existing element', 'EEXIST', (tx) => tx.create(elem({ set: 'cluster-ips' }, ['10.96.0.20']))],
    ['a set with a map\'s name', 'EEXIST', (tx) => tx.add({ kind: 'set', name: 'service-ips', type: 'ipv4_addr' })],
    ['a map element whose key is there with another value', 'EEXIST', (tx) => tx.add(elem({ map: 'service-ips' }, ['10.96.0.20', 'tcp', '8080'], ['drop']))],
    ['deleting a chain a rule jumps to', 'EBUSY', (tx) => tx.delete({ kind: 'chain', name: 'mark-for-masquerade' })],
    ['deleting a chain a map element goes to', 'EBUSY', (tx) => tx.delete({ kind: 'chain', name: 'external-MICGIRMT-default/api-service/tcp/' })],
    ['deleting a set a rule looks up', 'EBUSY', (tx) => tx.delete({ kind: 'set', name: 'cluster-ips' })],
    ['deleting a map a rule uses', 'EBUSY', (tx) => tx.delete({ kind: 'map', name: 'service-ips' })],
    ['a key of the wrong number of parts', 'EINVAL', (tx) => tx.add(elem({ map: 'service-ips' }, ['10.96.0.21', 'tcp'], ['drop']))],
    ['a verdict map value that is no verdict', 'EINVAL', (tx) => tx.add(elem({ map: 'service-nodeports' }, ['tcp', '1'], ['10.0.0.1']))],
  ];
  for (const [what, code, build] of refusals) {
    it(`refuses ${what} (${code}), changing nothing`, () => {
      const fake = loaded();
      const before = fake.dump();
      const tx = fake.newTransaction();
      tx.add({ kind: 'chain', name: 'added-first' });
      build(tx);
      assert.equal(codeOf(() => fake.check(tx)), code, 'check says what run will');
      assert.equal(codeOf(() => fake.run(tx)), code);
      assert.equal(fake.dump(), before, 'the chain added before the failing operation is not there either');
      assert.equal(fake.lastTransaction, tx);
    });
  }

  it('accepts what nft accepts: the same map value again, a destroy of nothing, deletes in order', () => {
    const fake = loaded();
    const tx = fake.newTransaction();
    tx.add(elem({ map: 'service-ips' }, ['10.96.0.20', 'tcp', '8080'], ['goto service-MICGIRMT-default/api-service/tcp/']));
    tx.destroy({ kind: 'chain', name: 'nope' }).destroy(elem({ set: 'cluster-ips' }, ['9.9.9.9']));
    // a chain that is only referenced from rules and elements deleted before it may go
    tx.delete(elem({ map: 'service-nodeports' }, ['tcp', '30080']));
    tx.delete(elem({ map: 'service-ips' }, ['10.96.0.20', 'tcp', '8080']));
    tx.flush({ kind: 'chain', name: 'external-MICGIRMT-default/api-service/tcp/' });
    tx.delete({ kind: 'chain', name: 'external-MICGIRMT-default/api-service/tcp/' });
    tx.flush({ kind: 'chain', name: 'service-MICGIRMT-default/api-service/tcp/' });
    tx.delete({ kind: 'chain', name: 'service-MICGIRMT-default/api-service/tcp/' });
    fake.run(tx);
    assert.equal(fake.lastOperations, 9);
    assert.deepEqual(fake.listElements('map', 'service-ips'), []);
    assert.ok(!fake.list('chains').includes('service-MICGIRMT-default/api-service/tcp/'));
  });

  it('places rules by index and handle, replaces and deletes by handle, and lists them with handles', () => {
    const fake = new Fake(ctx);
    fake.run(fake.newTransaction().add({ kind: 'table' }).add({ kind: 'chain', name: 'c' }).add(rule('c', 'tcp dport 1 accept')).add(rule('c', 'tcp dport 3 accept')));
    const [one, three] = fake.listRules('c');
    fake.run(fake.newTransaction().add({ ...rule('c', 'tcp dport 2 accept'), handle: one!.handle! }).insert({ ...rule('c', 'tcp dport 0 accept'), index: 0 }));
    assert.deepEqual(fake.listRules('c').map((r) => r.rule), ['tcp dport 0 accept', 'tcp dport 1 accept', 'tcp dport 2 accept', 'tcp dport 3 accept']);
    fake.run(fake.newTransaction().replace({ ...rule('c', 'tcp dport 33 drop'), handle: three!.handle! }).delete({ kind: 'rule', chain: 'c', rule: '', handle: one!.handle! }));
    const after = fake.listRules('c');
    assert.deepEqual(after.map((r) => r.rule), ['tcp dport 0 accept', 'tcp dport 2 accept', 'tcp dport 33 drop']);
    assert.equal(after[2]!.handle, three!.handle, 'a replaced rule keeps its handle');
    assert.equal(new Set(after.map((r) => r.handle)).size, 3);
    assert.equal(codeOf(() => fake.listRules('nope')), 'ENOENT');
  });

  it('flushes a table\'s rules (keeping its sets\' elements, as the kernel does), and deletes the table with all in it', () => {
    const fake = loaded();
    fake.run(fake.newTransaction().flush({ kind: 'table' }));
    assert.deepEqual(fake.listRules(''), []);
    assert.deepEqual(fake.listElements('set', 'cluster-ips').map((e) => e.key), [['10.96.0.20']]);
    fake.run(fake.newTransaction().delete({ kind: 'table' }));
    assert.equal(fake.dump(), '');
    assert.equal(codeOf(() => fake.list('chains')), 'ENOENT');
  });

  it('lists names sorted, elements with values and comments, and check() changes nothing', () => {
    const fake = loaded();
    fake.check(moreServices());
    assert.deepEqual(fake.list('sets'), ['cluster-ips', 'nodeport-ips']);
    assert.deepEqual(fake.list('map').slice(0, 2), ['firewall-ips', 'no-endpoint-nodeports']);
    fake.run(moreServices());
    const e = fake.listElements('map', 'no-endpoint-nodeports');
    assert.deepEqual(e, [{ kind: 'element', map: 'no-endpoint-nodeports', key: ['tcp', '3001'], value: ['drop'], comment: 'ns2/svc2:p80' }]);
    assert.equal(codeOf(() => fake.listElements('set', 'service-ips')), 'ENOENT', 'a map is not a set');
  });
});

describe('knftables Nftables over the exec layer', () => {
  const nftOk = () => new FakeExecutor().on('nft', () => '');

  it('runs a transaction as `nft -f -` in the given namespace, and checks with --check', () => {
    const ex = nftOk();
    const nft = new Nftables({ family: 'ip', table: 'kube-proxy', executor: ex, netns: 'ns1' });
    const tx = nft.newTransaction().add({ kind: 'table' }).add({ kind: 'chain', name: 'c' });
    nft.run(tx);
    nft.check(tx);
    assert.deepEqual(ex.calls.map((c) => [c.argv.join(' '), c.netns, c.input]), [
      ['nft -f -', 'ns1', 'add table ip kube-proxy\nadd chain ip kube-proxy c\n'],
      ['nft --check -f -', 'ns1', 'add table ip kube-proxy\nadd chain ip kube-proxy c\n'],
    ]);
  });

  it('turns what nft says into error codes, and a transaction with an error never reaches nft', () => {
    const said = (stderr: string, status: number | null = 1, error?: string) => {
      const ex = new FakeExecutor().on('nft', () => ({ status, stderr, ...(error ? { error } : {}) }));
      return codeOf(() => new Nftables({ ...ctx, executor: ex }).run(new Transaction(ctx).add({ kind: 'table' })));
    };
    assert.equal(said('/dev/stdin:2:15-21: Error: Could not process rule: No such file or directory\nadd rule ip t nochain accept\n'), 'ENOENT');
    assert.equal(said('Error: Could not process rule: File exists\n'), 'EEXIST');
    assert.equal(said('Error: Could not process rule: Device or resource busy\n'), 'EBUSY');
    assert.equal(said('Error: Could not process rule: Operation not supported\n'), 'EOPNOTSUPP');
    assert.equal(said('Error: syntax error, unexpected chain\n'), 'EINVAL');
    assert.equal(said('', null, 'spawnSync nft ENOENT'), 'EEXEC');
    const ex = nftOk();
    assert.equal(codeOf(() => new Nftables({ ...ctx, executor: ex }).run(new Transaction(ctx).add({ kind: 'set', name: 's' }))), 'EINVAL');
    assert.equal(ex.calls.length, 0);
  });

  it('probes destroy once, and emulates it when nft refuses it', () => {
    const ex = new FakeExecutor().on('nft', (argv, opts) => (argv.includes('--check') && opts.input?.startsWith('destroy') ? { status: 1, stderr: 'Error: syntax error, unexpected chain\n' } : ''));
    const nft = new Nftables({ ...ctx, executor: ex, emulateDestroy: true });
    assert.equal(nft.newTransaction().destroy({ kind: 'chain', name: 'c' }).toString(), 'add chain ip kube-proxy c\ndelete chain ip kube-proxy c\n');
    nft.newTransaction();
    assert.equal(ex.calls.length, 1);
  });

  it('reads rules back with their text from the listing, and elements from JSON', () => {
    const json = fixture('nft-kube-proxy.json');
    const text = fixture('nft-kube-proxy.txt');
    const ex = new FakeExecutor().on('nft', (argv) => (argv.includes('-a') ? text : json));
    const nft = new Nftables({ ...ctx, executor: ex });
    const rules = nft.listRules('cluster-ips-check');
    assert.deepEqual(ex.callsOf('nft'), [['--json', 'list', 'chain', 'ip', 'kube-proxy', 'cluster-ips-check'], ['-a', 'list', 'chain', 'ip', 'kube-proxy', 'cluster-ips-check']]);
    assert.equal(rules.find((r) => r.chain === 'cluster-ips-check')?.rule, 'ip daddr @cluster-ips reject');
    assert.ok(nft.list('chains').includes('reject-chain'));
    assert.ok(readRuleset({ executor: ex }).rules.length > 30);
  });

  it('lists names as knftables does (`list chains ip`, kept to its table, no rules read), ENOENT only when the table is missing', () => {
    const meta = { metainfo: { json_schema_version: 1 } };
    const doc = (...objs: object[]) => JSON.stringify({ nftables: [meta, ...objs] });
    const chains = doc({ chain: { family: 'ip', table: 'kube-proxy', name: 'services' } }, { chain: { family: 'ip', table: 'other', name: 'x' } }, { chain: { family: 'ip', table: 'kube-proxy', name: 'masquerading' } });
    const tables = (...names: string[]) => doc(...names.map((name) => ({ table: { family: 'ip', name } })));
    let present = ['kube-proxy', 'other'];
    const ex = new FakeExecutor().on('nft', (argv) => (argv.includes('tables') ? tables(...present) : argv.includes('chains') ? chains : doc()));
    const nft = new Nftables({ ...ctx, executor: ex });
    assert.deepEqual(nft.list('chains'), ['masquerading', 'services']);
    assert.deepEqual(ex.callsOf('nft'), [['--json', '--terse', 'list', 'chains', 'ip']], 'names found: no second look');
    assert.deepEqual(nft.list('map'), [], 'an empty table');
    assert.deepEqual(ex.callsOf('nft').slice(1), [['--json', '--terse', 'list', 'maps', 'ip'], ['--json', 'list', 'tables', 'ip']]);
    present = ['other'];
    assert.equal(codeOf(() => nft.list('sets')), 'ENOENT');
  });
});

describe('knftables reader of nft -j output', () => {
  const rs = parseRuleset(fixture('nft-kube-proxy.json'), fixture('nft-kube-proxy.txt'));
  const rulesOf = (chain: string) => rs.rules.filter((r) => r.chain === chain);
  const only = (chain: string) => {
    const r = rulesOf(chain);
    assert.equal(r.length, 1, chain);
    return r[0]!;
  };

  it('gives the table, chains, sets and maps as the typed objects they were built from', () => {
    assert.deepEqual(rs.tables, [{ kind: 'table', family: 'ip', name: 'kube-proxy', comment: 'rules for kube-proxy', handle: 1 }]);
    const natOutput = rs.chains.find((c) => c.name === 'nat-output')!;
    assert.deepEqual({ ...natOutput, handle: 0 }, { kind: 'chain', family: 'ip', table: 'kube-proxy', name: 'nat-output', type: 'nat', hook: 'output', priority: -100, policy: 'accept', handle: 0 });
    assert.equal(rs.chains.find((c) => c.name === 'reject-chain')?.comment, 'helper for @no-endpoint-services / @no-endpoint-nodeports', 'a chain comment nft 1.0.6 lists only as text');
    const aff = rs.sets.find((s) => s.name.startsWith('affinity-'))!;
    assert.deepEqual([aff.type, aff.flags, aff.timeout], ['ipv4_addr', ['dynamic', 'timeout'], 10800], 'the dynamic flag nft 1.0.6 drops from JSON');
    assert.equal(rs.maps.find((m) => m.name === 'service-ips')?.type, 'ipv4_addr . inet_proto . inet_service : verdict');
  });

  it('gives elements as knftables words: concatenated keys split, verdicts and comments kept', () => {
    const of = (map: string) => rs.elements.filter((e) => e.map === map || e.set === map).map(({ key, value, comment }) => ({ key, value, comment }));
    assert.deepEqual(of('no-endpoint-services'), [
      { key: ['192.168.99.22', 'tcp', '80'], value: ['drop'], comment: 'ns2/svc2:p80' },
      { key: ['172.30.0.46', 'tcp', '80'], value: ['goto reject-chain'], comment: 'ns6/svc6:p80' },
    ]);
    assert.deepEqual(of('cluster-ips').map((e) => e.key), [['10.96.0.20'], ['172.30.0.46']]);
    assert.deepEqual(of('affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80').map((e) => e.key), [['10.0.0.9']], 'a timed element');
  });

  it('gives each rule its text as nft lists it, its comment apart, and its handle', () => {
    const [reject, drop] = rulesOf('cluster-ips-check');
    assert.deepEqual([reject!.rule, reject!.comment], ['ip daddr @cluster-ips reject', 'Reject traffic to invalid ports of ClusterIPs']);
    assert.deepEqual([drop!.rule, drop!.comment], ['ip daddr 10.96.0.0/12 drop', 'Drop traffic to unallocated ClusterIPs']);
    assert.equal(only('mark-for-masquerade').rule, 'meta mark set meta mark | 0x00004000', 'nft\'s own spelling, not the input\'s');
    assert.ok(rs.rules.every((r) => typeof r.handle === 'number' && r.rule !== ''));
    assert.equal(parseRuleset(fixture('nft-kube-proxy.json')).rules[0]?.rule, '', 'no listing, no text');
  });

  const ipDaddr = { kind: 'payload', protocol: 'ip', field: 'daddr' } as const;
  const tuple: Expr = { kind: 'concat', parts: [ipDaddr, { kind: 'meta', key: 'l4proto' }, { kind: 'payload', protocol: 'th', field: 'dport' }] };
  const cases: [string, string, Statement[]][] = [
    ['a verdict map lookup on a concatenation', 'service-endpoints-check', [{ kind: 'vmap', key: tuple, data: { kind: 'setRef', name: 'no-endpoint-services' } }]],
    ['a bare jump', 'nat-output', [{ kind: 'verdict', verdict: { type: 'jump', target: 'services' } }]],
    ['a reject with its ICMP code', 'reject-chain', [{ kind: 'reject', type: 'icmp', code: 'port-unreachable' }]],
    ['a mark set by a bit operation', 'mark-for-masquerade', [{ kind: 'mangle', key: { kind: 'meta', key: 'mark' }, value: { kind: 'binop', op: '|', left: { kind: 'meta', key: 'mark' }, right: { kind: 'value', value: 16384 } } }]],
    ['a set lookup before a verdict map', 'nodeport-endpoints-check', [
      { kind: 'match', op: '==', left: ipDaddr, right: { kind: 'setRef', name: 'nodeport-ips' } },
      { kind: 'vmap', key: { kind: 'concat', parts: [{ kind: 'meta', key: 'l4proto' }, { kind: 'payload', protocol: 'th', field: 'dport' }] }, data: { kind: 'setRef', name: 'no-endpoint-nodeports' } },
    ]],
  ];
  for (const [what, chain, expr] of cases) {
    it(`reads ${what}`, () => assert.deepEqual(only(chain).expr, expr));
  }

  it('reads the statements a packet walker evaluates: matches, numgen vmaps, NAT, masquerade, set updates, fib', () => {
    const svc = rulesOf('service-MICGIRMT-default/api-service/tcp/');
    assert.deepEqual(svc[0]!.expr, [
      { kind: 'match', op: '==', left: ipDaddr, right: { kind: 'value', value: '10.96.0.20' } },
      { kind: 'match', op: '!=', left: { kind: 'payload', protocol: 'ip', field: 'saddr' }, right: { kind: 'prefix', addr: '10.244.0.0', len: 16 } },
      { kind: 'verdict', verdict: { type: 'jump', target: 'mark-for-masquerade' } },
    ]);
    assert.deepEqual(svc[1]!.expr, [{
      kind: 'vmap',
      key: { kind: 'numgen', mode: 'random', mod: 2, offset: 0 },
      data: { kind: 'set', items: [
        { key: { kind: 'value', value: 0 }, value: { kind: 'verdict', verdict: { type: 'goto', target: 'endpoint-4IJVFA6P-default/api-service/tcp/__10.244.0.5/8080' } } },
        { key: { kind: 'value', value: 1 }, value: { kind: 'verdict', verdict: { type: 'goto', target: 'endpoint-QORRC7GX-default/api-service/tcp/__10.244.0.6/8080' } } },
      ] },
    }]);
    assert.deepEqual(rulesOf('endpoint-4IJVFA6P-default/api-service/tcp/__10.244.0.5/8080')[1]!.expr, [
      { kind: 'match', op: '==', left: { kind: 'meta', key: 'l4proto' }, right: { kind: 'value', value: 'tcp' } },
      { kind: 'nat', type: 'dnat', addr: { kind: 'value', value: '10.244.0.5' }, port: { kind: 'value', value: 8080 }, flags: [] },
    ]);
    assert.deepEqual(rulesOf('masquerading')[2]!.expr, [{ kind: 'nat', type: 'masquerade', flags: ['fully-random'] }]);
    assert.deepEqual(rulesOf('masquerading')[0]!.expr, [
      { kind: 'match', op: '==', left: { kind: 'binop', op: '&', left: { kind: 'meta', key: 'mark' }, right: { kind: 'value', value: 16384 } }, right: { kind: 'value', value: 0 } },
      { kind: 'verdict', verdict: { type: 'return' } },
    ]);
    assert.deepEqual(rulesOf('filter-input')[0]!.expr![0], { kind: 'match', op: 'in', left: { kind: 'ct', key: 'state' }, right: { kind: 'value', value: 'new' } });
    assert.deepEqual(rulesOf('endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80')[1]!.expr, [
      { kind: 'setUpdate', op: 'update', set: 'affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80', elem: { kind: 'payload', protocol: 'ip', field: 'saddr' } },
    ]);
    assert.deepEqual(rulesOf('external-42NFTM6N-ns2/svc2/tcp/p80')[1]!.expr![0], { kind: 'match', op: '==', left: { kind: 'fib', result: 'type', flags: ['saddr'] }, right: { kind: 'value', value: 'local' } });
  });

  it('keeps statements it has no type for as `other`, and refuses output that is not nft JSON', () => {
    const json = JSON.stringify({ nftables: [{ metainfo: { json_schema_version: 1 } }, { rule: { family: 'ip', table: 't', chain: 'c', handle: 2, expr: [{ log: { prefix: 'hi ' } }, { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } }] } }] });
    assert.deepEqual(parseRuleset(json).rules[0]!.expr, [
      { kind: 'other', name: 'log', json: { prefix: 'hi ' } },
      { kind: 'match', op: 'in', left: { kind: 'ct', key: 'state' }, right: { kind: 'list', items: [{ kind: 'value', value: 'established' }, { kind: 'value', value: 'related' }] } },
    ]);
    assert.equal(codeOf(() => parseRuleset('not json')), 'EINVAL');
    assert.equal(codeOf(() => parseRuleset('{"nftables": [{"metainfo": {"json_schema_version": 2}}]}')), 'EINVAL');
  });
});

describe('knftables libnftables context', () => {
  it('gives the errors nft read from its file as `nft -f -` prints them', () => {
    const long = `add rule ip t c ip saddr { ${'10.0.0.1, '.repeat(150)}10.0.0.2 } jump nowhere`;
    const text = `add table ip t\n${long}\n`;
    // nft reads a file's line into 1 KiB for the quote; /dev/stdin's line is quoted whole
    const fromFile = `/proc/self/fd/21:2:1-${long.length}: Error: Could not process rule: No such file or directory\n${long.slice(0, 1023)}\n${'^'.repeat(long.length)}\n`;
    assert.equal(asStdinErrors(fromFile, '/proc/self/fd/21', text), `/dev/stdin:2:1-${long.length}: Error: Could not process rule: No such file or directory\n${long}\n${'^'.repeat(long.length)}\n`);
    // lines without a location (netlink's own errors) stay as they are
    assert.equal(asStdinErrors('netlink: Error: cache initialization failed\n', '/proc/self/fd/21', text), 'netlink: Error: cache initialization failed\n');
  });
});
