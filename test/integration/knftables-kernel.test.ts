// src/knftables against the real nft and kernel, in a network namespace of the test's own: the
// serialized kube-proxy transactions load, read back (`nft -j` + `nft -a list`) into the objects
// they were built from, agree with the Fake element for element, and nft refuses what the Fake
// refuses, with the same codes, changing nothing. All of it twice: transactions by `nft -f -`, and
// through one libnftables context kept open (build/nftctx.node), which also refuses with nft's
// very words, lives in the namespace it was opened in, and notices a ruleset changed by another
// writer between its transactions.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { commandExists, run } from '../../src/exec/exec.ts';
import { Fake, NftError, Nftables, parsePriority, readRuleset, type Chain, type NftMap, type NftSet, type Transaction } from '../../src/knftables/index.ts';
import { libnftables } from '../../src/knftables/libnftables.ts';
import { isRoot } from '../helpers/lab.ts';
import { codeOf as codes } from '../fixtures/codes.ts';
import { ctx, elem, moreServices, rule, seed001 } from '../fixtures/kube-proxy-nft.ts';
import { testName } from '../helpers/lab.ts';

const skip = !isRoot ? 'needs root for a network namespace' : !commandExists('nft') ? 'nft is not installed' : false;
const lib = libnftables();
const noAddon = 'error' in lib ? lib.error : false;

const codeOf = (f: () => void) => codes(f, NftError);
/** The NftError a call throws. */
function errorOf(f: () => void): NftError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof NftError, `not an NftError: ${e}`);
    return e;
  }
  assert.fail('no error');
}

/** The objects a transaction defines (its add operations), by kind. */
function defined<T extends Chain | NftSet | NftMap>(tx: Transaction, kind: T['kind']): T[] {
  return tx.operations.filter((op) => op.verb === 'add' && op.obj.kind === kind).map((op) => op.obj as T);
}

for (const transport of ['nft', 'libnftables'] as const) describe(`knftables on the kernel, transactions by ${transport}`, { skip: skip || (transport === 'libnftables' && noAddon) }, () => {
  // Named as the suite's labs, so its leftover check would see it.
  const ns = `pp-${testName('', 3)}-${transport === 'nft' ? 'knft' : 'knfl'}`;
  const nft = new Nftables({ ...ctx, netns: ns, ...(transport === 'libnftables' ? { session: true } : {}) });
  /** the same table by `nft -f -`, for what nft itself says */
  const byExec = new Nftables({ ...ctx, netns: ns });
  const fake = new Fake(ctx);
  let rootTables = '';

  before(() => {
    run(['ip', 'netns', 'add', ns]);
    rootTables = run(['nft', 'list', 'tables']);
  });
  after(() => {
    nft.close();
    run(['ip', 'netns', 'del', ns], { allowFail: true });
  });

  it('loads the serialized transactions, and reads back the objects they were built from', () => {
    for (const tx of [seed001(), moreServices()]) {
      nft.run(tx);
      fake.run(tx);
    }
    assert.equal(nft.transport, transport === 'nft' ? 'nft -f -' : 'libnftables (one context kept open)');
    assert.equal(run(['nft', 'list', 'tables']), rootTables, 'the root namespace is not touched');
    const rs = readRuleset({ netns: ns });
    assert.deepEqual(rs.tables.map((t) => [t.family, t.name, t.comment]), [['ip', 'kube-proxy', 'rules for kube-proxy']]);

    const built = [...defined<Chain>(seed001(), 'chain'), ...defined<Chain>(moreServices(), 'chain')];
    assert.deepEqual(rs.chains.map((c) => c.name).sort(), built.map((c) => c.name).sort());
    for (const c of built) {
      const got = rs.chains.find((r) => r.name === c.name)!;
      assert.deepEqual(
        { type: got.type, hook: got.hook, priority: got.priority, policy: got.policy, comment: got.comment },
        { type: c.type, hook: c.hook, priority: c.priority === undefined ? undefined : parsePriority('ip', c.priority), policy: c.hook ? 'accept' : undefined, comment: c.comment },
        c.name,
      );
    }
    for (const s of [...defined<NftSet>(seed001(), 'set'), ...defined<NftSet>(moreServices(), 'set')]) {
      const got = rs.sets.find((r) => r.name === s.name)!;
      assert.deepEqual([got.type, got.flags, got.timeout, got.comment], [s.type, s.flags, s.timeout, s.comment], s.name);
    }
    for (const m of defined<NftMap>(seed001(), 'map')) {
      const got = rs.maps.find((r) => r.name === m.name)!;
      assert.deepEqual([got.type, got.comment], [m.type, m.comment], m.name);
    }

    // Elements: the kernel holds exactly what the Fake holds.
    const kernelElements = rs.elements.map(({ set, map, key, value, comment }) => JSON.stringify({ set, map, key, value, comment })).sort();
    const fakeElements = [...fake.list('sets').map((n) => fake.listElements('set', n)), ...fake.list('maps').map((n) => fake.listElements('map', n))]
      .flat()
      .map(({ set, map, key, value, comment }) => JSON.stringify({ set, map, key, value, comment }))
      .sort();
    assert.deepEqual(kernelElements, fakeElements);
    assert.equal(kernelElements.length, 10);

    // Rules: the same chains, order and comments as the Fake; the text as given unless nft spells it its own way.
    const respelled = new Map([
      ['ip daddr { 10.96.0.0/12 } drop', 'ip daddr 10.96.0.0/12 drop'],
      ['ip saddr != { 203.0.113.0/25 } drop', 'ip saddr != 203.0.113.0/25 drop'],
      ['mark set mark or 0x4000', 'meta mark set meta mark | 0x00004000'],
      ['mark and 0x4000 == 0 return', 'meta mark & 0x00004000 == 0x00000000 return'],
      ['mark set mark xor 0x4000', 'meta mark set meta mark ^ 0x00004000'],
    ]);
    for (const chain of fake.list('chains')) {
      const want = fake.listRules(chain);
      const got = rs.rules.filter((r) => r.chain === chain);
      assert.deepEqual(got.map((r) => r.comment), want.map((r) => r.comment), chain);
      assert.deepEqual(
        got.map((r) => r.rule),
        want.map((r) => respelled.get(r.rule) ?? r.rule.replace(/ , /g, ', ')),
        chain,
      );
    }

    // What a packet walker needs of the dispatch: the verdict map's key and the element it finds.
    const dispatch = rs.rules.find((r) => r.chain === 'services')!;
    assert.deepEqual(dispatch.expr, [{ kind: 'vmap', key: { kind: 'concat', parts: [{ kind: 'payload', protocol: 'ip', field: 'daddr' }, { kind: 'meta', key: 'l4proto' }, { kind: 'payload', protocol: 'th', field: 'dport' }] }, data: { kind: 'setRef', name: 'service-ips' } }]);
    assert.deepEqual(rs.elements.find((e) => e.map === 'service-ips' && e.key[0] === '10.96.0.20')?.value, ['goto service-MICGIRMT-default/api-service/tcp/']);
  });

  it('lists chains, rules and elements through the Interface as the Fake does', () => {
    assert.deepEqual(nft.list('chains'), fake.list('chains'));
    assert.deepEqual(nft.list('maps'), fake.list('maps'));
    assert.deepEqual(nft.list('sets'), fake.list('sets'));
    assert.deepEqual(nft.list('flowtables'), [], 'none in a table that is there: no error');
    const strip = (es: { key: string[]; value?: string[]; comment?: string }[]) => es.map(({ key, value, comment }) => ({ key, value, comment }));
    assert.deepEqual(strip(nft.listElements('map', 'no-endpoint-services')), strip(fake.listElements('map', 'no-endpoint-services')));
    const rules = nft.listRules('external-42NFTM6N-ns2/svc2/tcp/p80');
    assert.deepEqual(rules.map((r) => [r.rule, r.comment]), fake.listRules('external-42NFTM6N-ns2/svc2/tcp/p80').map((r) => [r.rule, r.comment]));
    assert.ok(rules.every((r) => typeof r.handle === 'number'));
    assert.equal(nft.listRules('').length, fake.listRules('').length);
    assert.equal(codeOf(() => nft.listRules('nope')), 'ENOENT');
    assert.equal(codeOf(() => new Nftables({ family: 'ip', table: 'nope', netns: ns }).list('chains')), 'ENOENT');
  });

  it('says whether a chain has rules as the Fake does: one with rules, an empty one, none, and no table', () => {
    const empty = nft.newTransaction();
    empty.add({ kind: 'chain', name: 'zz-empty' });
    nft.run(empty);
    fake.run(empty);
    for (const chain of ['services', 'external-42NFTM6N-ns2/svc2/tcp/p80', 'zz-empty', 'nope']) {
      assert.equal(nft.hasRules(chain), fake.hasRules(chain), chain);
    }
    assert.equal(nft.hasRules('services'), true);
    assert.equal(nft.hasRules('zz-empty'), false);
    assert.equal(nft.hasRules('nope'), false);
    const noTable = new Nftables({ family: 'ip', table: 'nope', netns: ns, ...(transport === 'libnftables' ? { session: true } : {}) });
    assert.equal(noTable.hasRules('services'), false);
    noTable.close();
    const drop = nft.newTransaction();
    drop.delete({ kind: 'chain', name: 'zz-empty' });
    nft.run(drop);
    fake.run(drop);
  });

  const refusals: [string, (tx: Transaction) => void][] = [
    ['a rule in a missing chain', (tx) => tx.add(rule('nope', 'accept'))],
    ['a jump to a missing chain', (tx) => tx.add(rule('services', 'jump nope'))],
    ['a jump to a base chain', (tx) => tx.add(rule('services', 'jump nat-output'))],
    ['a lookup in a missing set', (tx) => tx.add(rule('services', 'ip saddr @nope drop'))],
    ['a goto in a map element to a missing chain', (tx) => tx.add(elem({ map: 'service-nodeports' }, ['tcp', '1'], ['goto nope']))],
    ['deleting a missing chain', (tx) => tx.delete({ kind: 'chain', name: 'nope' })],
    ['deleting a missing element', (tx) => tx.delete(elem({ set: 'cluster-ips' }, ['9.9.9.9']))],
    ['deleting a missing rule', (tx) => tx.delete({ kind: 'rule', chain: 'services', rule: '', handle: 99999 })],
    ['creating an existing chain', (tx) => tx.create({ kind: 'chain', name: 'services' })],
    ['creating an existing element', (tx) => tx.create(elem({ set: 'cluster-ips' }, ['10.96.0.20']))],
    ['a map element there with another value', (tx) => tx.add(elem({ map: 'service-ips' }, ['10.96.0.20', 'tcp', '8080'], ['drop']))],
    ['deleting a chain a rule jumps to', (tx) => tx.delete({ kind: 'chain', name: 'mark-for-masquerade' })],
    ['deleting a chain a map element goes to', (tx) => tx.delete({ kind: 'chain', name: 'external-MICGIRMT-default/api-service/tcp/' })],
    ['deleting a set a rule looks up', (tx) => tx.delete({ kind: 'set', name: 'cluster-ips' })],
    ['an element key of the wrong shape', (tx) => tx.add(elem({ map: 'service-ips' }, ['10.96.0.21', 'tcp'], ['drop']))],
  ];
  for (const [what, build] of refusals) {
    it(`nft refuses ${what} with the Fake's code, all or nothing`, () => {
      const before = run(['nft', 'list', 'ruleset'], { netns: ns });
      const tx = nft.newTransaction();
      tx.add({ kind: 'chain', name: 'added-first' });
      build(tx);
      const code = codeOf(() => fake.run(tx));
      assert.notEqual(code, 'no error');
      assert.equal(codeOf(() => nft.check(tx)), code, 'nft --check');
      const err = errorOf(() => nft.run(tx));
      assert.equal(err.code, code, 'nft -f');
      // word for word what `nft -f -` prints, location and all
      assert.equal(err.stderr, errorOf(() => byExec.run(tx)).stderr);
      assert.equal(run(['nft', 'list', 'ruleset'], { netns: ns }), before);
    });
  }

  it('applies transactions after a refused one, and reports a refusal on a later line with its line', () => {
    const tx = nft.newTransaction().add({ kind: 'chain', name: 'after-refusal' }).add(rule('after-refusal', 'counter'));
    nft.run(tx);
    assert.deepEqual(nft.listRules('after-refusal').map((r) => r.rule), ['counter packets 0 bytes 0']);
    // a long line (nft reads a file's lines into 1 KiB; /dev/stdin's whole)
    const long = nft.newTransaction().add(rule('after-refusal', 'counter')).add(rule('after-refusal', `ip saddr { ${Array.from({ length: 120 }, (_, i) => `10.1.${i}.1`).join(', ')} } jump nowhere`));
    const err = errorOf(() => nft.run(long));
    assert.match(err.stderr!, /^\/dev\/stdin:2:/);
    assert.equal(err.stderr, errorOf(() => byExec.run(long)).stderr);
    nft.run(nft.newTransaction().delete({ kind: 'chain', name: 'after-refusal' }).add({ kind: 'chain', name: 'after-refusal' }).delete({ kind: 'chain', name: 'after-refusal' }));
    assert.ok(!nft.list('chains').includes('after-refusal'));
  });

  it('rewrites a Service\'s chains with their rules in chain blocks, as add rule would, and refuses in that form with nft\'s words for the text', () => {
    const aff = 'affinity-TEST-ns9/svc9/tcp/p80__10.96.9.9/80';
    const tx = () =>
      nft
        .newTransaction()
        .add({ kind: 'set', name: aff, type: 'ipv4_addr', flags: ['dynamic', 'timeout'], timeout: 10800 })
        .add({ kind: 'chain', name: 'svc-blocks' })
        .flush({ kind: 'chain', name: 'svc-blocks' })
        .add({ kind: 'chain', name: 'ep-blocks' })
        .flush({ kind: 'chain', name: 'ep-blocks' })
        .add(rule('svc-blocks', `ip saddr @${aff} goto ep-blocks`))
        .add(rule('svc-blocks', 'numgen random mod 1 vmap { 0 : goto ep-blocks }', 'one endpoint'))
        .add(rule('ep-blocks', 'meta l4proto tcp dnat to 10.180.0.2:80'));
    // twice: the second rewrites the chains (flushed, then filled), as a partial sync does
    for (let i = 0; i < 2; i++) {
      nft.run(tx());
      fake.run(tx());
    }
    for (const chain of ['svc-blocks', 'ep-blocks']) assert.deepEqual(nft.listRules(chain).map((r) => [r.rule.replace(/, /g, ' , '), r.comment]), fake.listRules(chain).map((r) => [r.rule, r.comment]), chain);
    const bad = nft.newTransaction().add({ kind: 'chain', name: 'svc-blocks' }).flush({ kind: 'chain', name: 'svc-blocks' }).add(rule('svc-blocks', 'jump nope'));
    const before = run(['nft', 'list', 'ruleset'], { netns: ns });
    const err = errorOf(() => nft.run(bad));
    assert.equal(err.code, codeOf(() => fake.run(bad)));
    assert.equal(err.stderr, errorOf(() => byExec.run(bad)).stderr, 'word for word what nft says to the text as written');
    assert.equal(run(['nft', 'list', 'ruleset'], { netns: ns }), before);
    nft.run(nft.newTransaction().flush({ kind: 'chain', name: 'svc-blocks' }).delete({ kind: 'chain', name: 'svc-blocks' }).delete({ kind: 'chain', name: 'ep-blocks' }).delete({ kind: 'set', name: aff }));
    fake.run(fake.newTransaction().flush({ kind: 'chain', name: 'svc-blocks' }).delete({ kind: 'chain', name: 'svc-blocks' }).delete({ kind: 'chain', name: 'ep-blocks' }).delete({ kind: 'set', name: aff }));
  });

  it('deletes chains and sets by name all or nothing, and refuses with nft\'s words', () => {
    const objs = () => nft.newTransaction().add({ kind: 'chain', name: 'del-a' }).add({ kind: 'chain', name: 'del-b' }).add({ kind: 'set', name: 'del-s', type: 'ipv4_addr' });
    nft.run(objs());
    fake.run(objs());
    for (const [what, tx] of [
      ['one missing', nft.newTransaction().delete({ kind: 'chain', name: 'del-a' }).delete({ kind: 'chain', name: 'nope' })],
      ['one in use', nft.newTransaction().delete({ kind: 'chain', name: 'del-a' }).delete({ kind: 'chain', name: 'mark-for-masquerade' })],
      ['a set in use', nft.newTransaction().delete({ kind: 'set', name: 'del-s' }).delete({ kind: 'set', name: 'cluster-ips' })],
    ] as const) {
      const before = run(['nft', 'list', 'ruleset'], { netns: ns });
      const err = errorOf(() => nft.run(tx));
      assert.equal(err.code, codeOf(() => fake.run(tx)), what);
      assert.equal(err.stderr, errorOf(() => byExec.run(tx)).stderr, what);
      assert.equal(run(['nft', 'list', 'ruleset'], { netns: ns }), before, what);
    }
    const del = () => nft.newTransaction().delete({ kind: 'chain', name: 'del-a' }).delete({ kind: 'set', name: 'del-s' }).delete({ kind: 'chain', name: 'del-b' });
    nft.run(del());
    fake.run(del());
    assert.deepEqual(nft.list('chains'), fake.list('chains'));
    assert.deepEqual(nft.list('sets'), fake.list('sets'));
  });

  it('sees what another writer changed between its transactions', () => {
    nft.run(nft.newTransaction().add({ kind: 'set', name: 'retyped', type: 'inet_service' }).add(elem({ set: 'retyped' }, ['80'])));
    // another writer (nft itself) makes the set hold addresses; an element of the new type must be
    // evaluated against it, not against a cache of the old one
    run(['nft', '-f', '-'], { netns: ns, input: 'delete set ip kube-proxy retyped\nadd set ip kube-proxy retyped { type ipv4_addr ; }\n' });
    nft.run(nft.newTransaction().add(elem({ set: 'retyped' }, ['10.9.9.9'])));
    assert.deepEqual(nft.listElements('set', 'retyped').map((e) => e.key), [['10.9.9.9']]);
    nft.run(nft.newTransaction().delete({ kind: 'set', name: 'retyped' }));
  });

  it('emulates destroy where nft lacks it, and destroys what is there and what is not', () => {
    const n = new Nftables({ ...ctx, netns: ns, emulateDestroy: true, ...(transport === 'libnftables' ? { session: true } : {}) });
    const tx = n.newTransaction().add({ kind: 'chain', name: 'doomed' });
    n.run(tx);
    n.run(n.newTransaction().destroy({ kind: 'chain', name: 'doomed' }).destroy({ kind: 'chain', name: 'never-was' }));
    assert.ok(!n.list('chains').includes('doomed') && !n.list('chains').includes('never-was'));
    n.close();
  });
});
