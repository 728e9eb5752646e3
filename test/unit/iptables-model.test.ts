// src/iptables: iptables-restore input (what podpath's iptables mode writes) and iptables-save
// output (captured from iptables-nft 1.8.9) read into typed tables and written back byte for byte,
// rules read into matches and targets, the fake's iptables-restore semantics and refusals, and the
// Interface over the tools through the exec fake.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FakeExecutor } from '../../src/exec/fake.ts';
import { appendRule, FakeIptables, IptError, Iptables, matchParam, newTable, parseDump, parseRuleSpec, quoteArg, rulesOf, serializeDump, targetParam, tokenize, userChain, type Table } from '../../src/iptables/index.ts';
import { repoRoot } from '../helpers/apiserver.ts';
import { codeOf as codes } from '../fixtures/codes.ts';

const codeOf = (f: () => void) => codes(f, IptError);
const read = (p: string) => fs.readFileSync(path.join(repoRoot, p), 'utf8');
const seedText = read('test/golden/proxy-iptables-seed-001.txt');
const overallText = read('test/golden/proxy-iptables-upstream-overall.txt');
const savedText = read('test/fixtures/iptables-save-kube-proxy.txt');
const table = (tables: Table[], name: string) => tables.find((t) => t.name === name)!;

describe('iptables text', () => {
  it('splits words as iptables-restore does', () => {
    assert.deepEqual(tokenize('-A X -m comment --comment "a b"  -j Y'), ['-A', 'X', '-m', 'comment', '--comment', 'a b', '-j', 'Y']);
    assert.deepEqual(tokenize('--comment "it\\\'s a \\"test\\" \\\\ x" --x ""'), ['--comment', 'it\'s a "test" \\ x', '--x', '']);
    assert.deepEqual(tokenize('a"b c"d\te'), ['ab cd', 'e']);
  });

  it('quotes as kube-proxy writes restore input, or as iptables-save prints string options', () => {
    assert.equal(quoteArg('default/api-service', '--comment', 'restore'), 'default/api-service');
    assert.equal(quoteArg('default/api-service', '--comment', 'save'), '"default/api-service"');
    assert.equal(quoteArg('a_b-C', '--comment', 'save'), 'a_b-C');
    assert.equal(quoteArg('it\'s "x" \\', '--comment', 'save'), '"it\\\'s \\"x\\" \\\\"');
    assert.equal(quoteArg('a b', '--comment', 'restore'), '"a b"');
    assert.equal(quoteArg('', '--comment', 'restore'), '""');
    assert.equal(quoteArg('10.0.0.0/8', '-s', 'save'), '10.0.0.0/8', 'only string options are quoted by iptables-save');
  });

  it('reads and writes back podpath\'s iptables-restore inputs byte for byte', () => {
    for (const text of [seedText, overallText]) assert.equal(serializeDump(parseDump(text), 'restore'), text);
    const nat = table(parseDump(seedText), 'nat');
    assert.equal(nat.chains.length, 8);
    assert.deepEqual(nat.chains[0], { name: 'KUBE-SERVICES', policy: '-', counters: { packets: 0n, bytes: 0n } });
    assert.equal(nat.ops.length, 16);
    assert.deepEqual(rulesOf(nat, 'KUBE-MARK-MASQ'), [{ chain: 'KUBE-MARK-MASQ', args: ['-j', 'MARK', '--or-mark', '0x4000'] }]);
    assert.deepEqual(rulesOf(nat, 'KUBE-SERVICES').map((r) => r.args.at(-1)), ['KUBE-SVC-JKKS4F2RVJTCP5JI', 'KUBE-NODEPORTS'], 'a chain\'s rules, wherever they stand in the input');
  });

  it('builds a table as kube-proxy writes one: user chains declared "- [0:0]", rules appended as argument lists', () => {
    const t = newTable('nat', ['KUBE-SERVICES']);
    t.chains.push(userChain('KUBE-MARK-MASQ'));
    appendRule(t, 'KUBE-SERVICES', ['-m', 'comment', '--comment', 'default/web cluster IP', '-d', '10.96.0.20', '-j', 'KUBE-MARK-MASQ']);
    appendRule(t, 'KUBE-MARK-MASQ', ['-j', 'MARK', '--or-mark', '0x4000']);
    const text = '*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n-A KUBE-SERVICES -m comment --comment "default/web cluster IP" -d 10.96.0.20 -j KUBE-MARK-MASQ\n-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\nCOMMIT\n';
    assert.equal(serializeDump([t], 'restore'), text);
    assert.deepEqual(parseDump(text), [t]);
  });

  it('reads and writes back real iptables-save output byte for byte, its header and footer and counters included', () => {
    assert.equal(serializeDump(parseDump(savedText), 'save'), savedText);
    const tables = parseDump(savedText);
    assert.deepEqual(tables.map((t) => [t.name, t.header?.length, t.footer?.length]), [['filter', 1, 1], ['nat', 1, 1]]);
    const masq = rulesOf(table(tables, 'nat'), 'KUBE-MARK-MASQ').map((r) => parseRuleSpec(r.args).comment);
    assert.deepEqual(masq, [undefined, 'it\'s a "test" \\ x', '']);
    const counted = read('test/fixtures/iptables-save-counters.txt');
    assert.equal(serializeDump(parseDump(counted), 'save'), counted);
    assert.deepEqual(parseDump(counted)[0]!.ops[0], { op: 'append', rule: { chain: 'KUBE-EXT-JKKS4F2RVJTCP5JI', args: ['-m', 'comment', '--comment', 'masquerade traffic for default/api-service external destinations', '-j', 'KUBE-MARK-MASQ'], counters: { packets: 0n, bytes: 0n } } });
  });

  it('reads every command a restore input may hold', () => {
    const text = '*nat\n:A - [0:0]\n-N B\n-I A 2 -j RETURN\n-I A -j B\n-D A -j RETURN\n-F B\n-X B\nCOMMIT\n';
    const [t] = parseDump(text);
    assert.deepEqual(t!.ops, [
      { op: 'newChain', chain: 'B' },
      { op: 'insert', rule: { chain: 'A', args: ['-j', 'RETURN'] }, position: 2 },
      { op: 'insert', rule: { chain: 'A', args: ['-j', 'B'] } },
      { op: 'delete', rule: { chain: 'A', args: ['-j', 'RETURN'] } },
      { op: 'flushChain', chain: 'B' },
      { op: 'deleteChain', chain: 'B' },
    ]);
    assert.equal(serializeDump([t!]), text);
  });

  const bad: [string, RegExp][] = [
    ['*nat\n:A - [0:0]\n', /no COMMIT/],
    ['-A X -j Y\n', /line 1: expected "\*table"/],
    ['*nat\n:A - 0:0\nCOMMIT\n', /line 2: bad chain declaration/],
    ['*bogus\nCOMMIT\n', /unknown table bogus/],
    ['*nat\n-A A -j RETURN\n:B - [0:0]\nCOMMIT\n', /line 3: chain declared after rules/],
    ['*nat\n-Q A\nCOMMIT\n', /line 2: not a rule or chain command/],
    ['*nat\n[1:x] -A A -j RETURN\nCOMMIT\n', /bad counters/],
  ];
  for (const [text, why] of bad) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.equal(codeOf(() => parseDump(text)), 'EINVAL');
      assert.throws(() => parseDump(text), why);
    });
  }
});

describe('iptables rule arguments', () => {
  const nat = table(parseDump(overallText), 'nat');
  const spec = (chain: string, n = 0) => parseRuleSpec(rulesOf(nat, chain)[n]!.args);

  it('reads built-in matches, modules with their options, and the target', () => {
    const s = spec('KUBE-SERVICES', 0);
    assert.deepEqual([s.comment, s.protocol, s.destination, s.target?.name], ['ns1/svc1:p80 cluster IP', { value: 'tcp', negated: false }, { value: '172.30.0.41', negated: false }, 'KUBE-SVC-XPGD46QRK7WJZT7O']);
    assert.deepEqual(s.matches.map((m) => m.module), ['comment', 'tcp']);
    assert.deepEqual(matchParam(s, 'tcp', 'dport'), { name: 'dport', values: ['80'], negated: false }, '--dport after -d still belongs to -m tcp');
  });

  it('reads statistic, recent (options without values among them), negations and target options', () => {
    const lb = spec('KUBE-SVC-4SW47YFZTEDKD3PK', 1);
    assert.deepEqual([matchParam(lb, 'statistic', 'mode')?.values, matchParam(lb, 'statistic', 'probability')?.values], [['random'], ['0.5000000000']]);
    const sticky = spec('KUBE-SVC-NUKIZ6OKUXPJNT4C', 1);
    assert.deepEqual(sticky.matches.find((m) => m.module === 'recent')?.params.map((p) => [p.name, p.values]), [['name', ['KUBE-SEP-I77PXRDZVX7PMWMN']], ['rcheck', []], ['seconds', ['10800']], ['reap', []]]);
    const set = spec('KUBE-SEP-I77PXRDZVX7PMWMN', 1);
    assert.deepEqual(matchParam(set, 'recent', 'set'), { name: 'set', values: [], negated: false });
    assert.deepEqual(targetParam(set, 'to-destination')?.values, ['10.180.0.3:80']);
    const masq = spec('KUBE-SVC-4SW47YFZTEDKD3PK', 0);
    assert.deepEqual(masq.source, { value: '10.0.0.0/8', negated: true });
    const fw = parseRuleSpec(rulesOf(table(parseDump(overallText), 'filter'), 'KUBE-FIREWALL')[0]!.args);
    assert.deepEqual(matchParam(fw, 'conntrack', 'ctstate'), { name: 'ctstate', values: ['RELATED,ESTABLISHED,DNAT'], negated: true });
    const mark = parseRuleSpec(rulesOf(nat, 'KUBE-POSTROUTING')[0]!.args);
    assert.deepEqual(matchParam(mark, 'mark', 'mark'), { name: 'mark', values: ['0x4000/0x4000'], negated: true });
    assert.deepEqual(parseRuleSpec(rulesOf(nat, 'KUBE-MARK-MASQ')[0]!.args).target, { name: 'MARK', params: [{ name: 'or-mark', values: ['0x4000'], negated: false }] });
  });

  it('reads the same meaning from kube-proxy\'s spelling and from iptables-save\'s', () => {
    const saved = parseDump(savedText);
    const mine = (t: Table[], chain: string) => rulesOf(table(t, 'nat'), chain).map((r) => {
      const s = parseRuleSpec(r.args);
      const addr = (a?: { value: string; negated: boolean }) => a && { ...a, value: a.value.replace(/\/32$/, '') };
      return { comment: s.comment, protocol: s.protocol, source: addr(s.source), destination: addr(s.destination), dport: matchParam(s, undefined, 'dport')?.values, target: s.target?.name };
    });
    for (const chain of ['KUBE-SERVICES', 'KUBE-SVC-JKKS4F2RVJTCP5JI', 'KUBE-SEP-PRXHNDQBMTWYAWZA', 'KUBE-NODEPORTS']) {
      assert.deepEqual(mine(saved, chain), mine(parseDump(seedText), chain), chain);
    }
  });

  it('gives options after -p without -m to the protocol\'s own match; reads a rule without a target', () => {
    const s = parseRuleSpec(['-p', 'udp', '--dport', '53', '-j', 'ACCEPT']);
    assert.deepEqual(s.matches, [{ module: 'udp', implicit: true, params: [{ name: 'dport', values: ['53'], negated: false }] }]);
    const fw = rulesOf(nat, 'KUBE-FW-NUKIZ6OKUXPJNT4C')[1]!;
    assert.deepEqual(parseRuleSpec(fw.args), { matches: [{ module: 'comment', params: [{ name: 'comment', values: ['other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL'], negated: false }] }], comment: 'other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL' });
    assert.deepEqual(parseRuleSpec(['-m', 'comment', '--comment', '-> x', '-g', 'C']).comment, '-> x', 'a comment that looks like an option');
  });

  it('refuses arguments iptables would not take', () => {
    assert.throws(() => parseRuleSpec(['--dport', '80']), /belongs to no match/);
    assert.equal(codeOf(() => parseRuleSpec(['-s'])), 'EINVAL');
    assert.equal(codeOf(() => parseRuleSpec(['-j', 'ACCEPT', '!'])), 'EINVAL');
    assert.equal(codeOf(() => parseRuleSpec(['bogus'])), 'EINVAL');
    assert.equal(codeOf(() => parseRuleSpec(['-m', 'set', '--match-set', 'only-one'])), 'EINVAL');
  });
});

describe('iptables fake', () => {
  const seeded = () => {
    const ipt = new FakeIptables();
    ipt.restore(parseDump(seedText), { noflush: true });
    return ipt;
  };
  const restoreText = (ipt: FakeIptables, text: string, noflush = true) => ipt.restore(parseDump(text), { noflush });

  it('holds what a restore declares and appends, and saves it as iptables-save orders it', () => {
    const ipt = seeded();
    const nat = ipt.save('nat');
    assert.deepEqual(nat.chains.map((c) => c.name), ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING', 'KUBE-EXT-JKKS4F2RVJTCP5JI', 'KUBE-MARK-MASQ', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-SEP-6YCMHC6HKYBZGVRT', 'KUBE-SEP-PRXHNDQBMTWYAWZA', 'KUBE-SERVICES', 'KUBE-SVC-JKKS4F2RVJTCP5JI']);
    assert.deepEqual(nat.chains[0], { name: 'PREROUTING', policy: 'ACCEPT', counters: { packets: 0n, bytes: 0n } });
    assert.deepEqual(nat.ops.map((o) => o.op === 'append' && o.rule.chain), ['KUBE-EXT-JKKS4F2RVJTCP5JI', 'KUBE-EXT-JKKS4F2RVJTCP5JI', 'KUBE-MARK-MASQ', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-POSTROUTING', 'KUBE-POSTROUTING', 'KUBE-SEP-6YCMHC6HKYBZGVRT', 'KUBE-SEP-6YCMHC6HKYBZGVRT', 'KUBE-SEP-PRXHNDQBMTWYAWZA', 'KUBE-SEP-PRXHNDQBMTWYAWZA', 'KUBE-SERVICES', 'KUBE-SERVICES', 'KUBE-SVC-JKKS4F2RVJTCP5JI', 'KUBE-SVC-JKKS4F2RVJTCP5JI', 'KUBE-SVC-JKKS4F2RVJTCP5JI']);
    assert.equal(ipt.rules('filter', 'KUBE-FORWARD')?.length, 3);
  });

  it('flushes a declared user chain with --noflush but not a built-in one; without --noflush replaces the whole table', () => {
    const ipt = seeded();
    ipt.ensureRule('append', 'nat', 'OUTPUT', ['-j', 'KUBE-SERVICES']);
    restoreText(ipt, '*nat\n:OUTPUT ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\nCOMMIT\n');
    assert.equal(ipt.rules('nat', 'OUTPUT')?.length, 1);
    assert.deepEqual(ipt.rules('nat', 'KUBE-SERVICES'), []);
    assert.equal(ipt.rules('nat', 'KUBE-SEP-6YCMHC6HKYBZGVRT')?.length, 2, 'undeclared chains keep their rules');
    restoreText(ipt, '*nat\n:POSTROUTING DROP [0:0]\n:KUBE-MARK-MASQ - [0:0]\nCOMMIT\n', false);
    assert.deepEqual(ipt.save('nat').chains.map((c) => `${c.name} ${c.policy}`), ['PREROUTING ACCEPT', 'INPUT ACCEPT', 'OUTPUT ACCEPT', 'POSTROUTING DROP', 'KUBE-MARK-MASQ -']);
    assert.deepEqual(ipt.rules('nat', 'OUTPUT'), []);
    assert.equal(ipt.rules('filter', 'KUBE-FORWARD')?.length, 3, 'a table the input does not name is left alone');
  });

  it('deletes stale chains as kube-proxy does: declared (flushed), then -X, once nothing jumps to them', () => {
    const ipt = seeded();
    restoreText(ipt, '*nat\n:KUBE-SVC-JKKS4F2RVJTCP5JI - [0:0]\n:KUBE-EXT-JKKS4F2RVJTCP5JI - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-SERVICES - [0:0]\n-X KUBE-EXT-JKKS4F2RVJTCP5JI\n-X KUBE-SVC-JKKS4F2RVJTCP5JI\nCOMMIT\n');
    assert.equal(ipt.hasChain('nat', 'KUBE-SVC-JKKS4F2RVJTCP5JI'), false);
    assert.equal(ipt.hasChain('nat', 'KUBE-SEP-6YCMHC6HKYBZGVRT'), true);
  });

  const refusals: [string, string, string][] = [
    ['a rule in a missing chain', 'ENOENT', '*nat\n-A NOPE -j RETURN\nCOMMIT\n'],
    ['a jump to a missing chain', 'ENOENT', '*nat\n-A KUBE-MARK-MASQ -j NOPE\nCOMMIT\n'],
    ['a goto to a missing chain', 'ENOENT', '*nat\n-A KUBE-MARK-MASQ -g NOPE\nCOMMIT\n'],
    ['a jump to a built-in chain', 'EOPNOTSUPP', '*nat\n:OUTPUT ACCEPT [0:0]\n-A KUBE-MARK-MASQ -j OUTPUT\nCOMMIT\n'],
    ['DNAT in the filter table', 'EINVAL', '*filter\n-A KUBE-FORWARD -p tcp -j DNAT --to-destination 1.2.3.4:80\nCOMMIT\n'],
    ['REJECT in the nat table', 'EINVAL', '*nat\n-A KUBE-MARK-MASQ -j REJECT\nCOMMIT\n'],
    ['arguments iptables cannot read', 'EINVAL', '*nat\n-A KUBE-MARK-MASQ bogus -j RETURN\nCOMMIT\n'],
    ['deleting a chain a rule jumps to', 'EBUSY', '*nat\n:KUBE-SEP-PRXHNDQBMTWYAWZA - [0:0]\n-X KUBE-SEP-PRXHNDQBMTWYAWZA\nCOMMIT\n'],
    ['deleting a chain with rules', 'EBUSY', '*nat\n-X KUBE-SVC-JKKS4F2RVJTCP5JI\nCOMMIT\n'],
    ['deleting a missing chain', 'ENOENT', '*nat\n-X NOPE\nCOMMIT\n'],
    ['creating an existing chain', 'EEXIST', '*nat\n-N KUBE-MARK-MASQ\nCOMMIT\n'],
    ['deleting a missing rule', 'ENOENT', '*nat\n-D KUBE-MARK-MASQ -j RETURN\nCOMMIT\n'],
    ['inserting past the end', 'EINVAL', '*nat\n-I KUBE-MARK-MASQ 5 -j RETURN\nCOMMIT\n'],
  ];
  for (const [what, code, text] of refusals) {
    it(`refuses ${what} (${code}): its table is left as it was, a table committed before it stays`, () => {
      const ipt = seeded();
      const input = parseDump(`*filter\n:NEW-FILTER - [0:0]\nCOMMIT\n${text.replace('COMMIT', '-N NEW-CHAIN\nCOMMIT')}`);
      const expected = seeded();
      expected.restore(input.slice(0, 1), { noflush: true });
      assert.equal(codeOf(() => ipt.restore(input, { noflush: true })), code);
      assert.deepEqual([ipt.save('filter'), ipt.save('nat')], [expected.save('filter'), expected.save('nat')]);
      assert.equal(ipt.hasChain('filter', 'NEW-FILTER'), true);
      assert.equal(ipt.hasChain(input[1]!.name, 'NEW-CHAIN'), false);
      assert.equal(ipt.lastRestore, input);
    });
  }

  it('ensures chains and rules, saying whether they were there, and keeps counters only when asked', () => {
    const ipt = new FakeIptables();
    assert.equal(ipt.hasChain('nat', 'KUBE-SERVICES'), false);
    assert.equal(ipt.ensureChain('nat', 'KUBE-SERVICES'), false);
    assert.equal(ipt.ensureChain('nat', 'KUBE-SERVICES'), true);
    assert.equal(ipt.ensureChain('nat', 'OUTPUT'), true, 'a built-in chain is always there');
    const jump = ['-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES'];
    assert.equal(ipt.ensureRule('append', 'nat', 'OUTPUT', ['-j', 'RETURN']), false);
    assert.equal(ipt.ensureRule('prepend', 'nat', 'OUTPUT', jump), false);
    assert.equal(ipt.ensureRule('prepend', 'nat', 'OUTPUT', jump), true);
    assert.deepEqual(ipt.rules('nat', 'OUTPUT')?.map((r) => r.args.at(-1)), ['KUBE-SERVICES', 'RETURN']);
    assert.equal(codeOf(() => ipt.ensureRule('append', 'nat', 'NOPE', ['-j', 'RETURN'])), 'ENOENT');
    assert.equal(codeOf(() => ipt.ensureRule('append', 'nat', 'OUTPUT', ['-j', 'NOPE'])), 'ENOENT');
    const counted = '*nat\n:A - [0:0]\n[3:180] -A A -j RETURN\nCOMMIT\n';
    ipt.restore(parseDump(counted), { noflush: true });
    assert.equal(ipt.rules('nat', 'A')?.[0]?.counters, undefined);
    ipt.restore(parseDump(counted), { noflush: true, counters: true });
    assert.deepEqual(ipt.rules('nat', 'A')?.[0]?.counters, { packets: 3n, bytes: 180n });
  });
});

describe('iptables Interface over the exec layer', () => {
  it('restores with iptables-restore --noflush, in the namespace, the input in kube-proxy\'s quoting', () => {
    const ex = new FakeExecutor();
    new Iptables({ executor: ex, netns: 'ns1' }).restore(parseDump(seedText), { noflush: true, counters: true });
    assert.deepEqual(ex.calls.map((c) => [c.argv.join(' '), c.netns, c.input]), [['iptables-restore -w 5 -W 100000 --noflush --counters', 'ns1', seedText]]);
  });

  it('saves one table, parsed', () => {
    const ex = new FakeExecutor().on('iptables-save', () => savedText.split('# Completed')[0] + '# Completed on x\n');
    const t = new Iptables({ executor: ex }).save('filter');
    assert.deepEqual(ex.callsOf('iptables-save'), [['-t', 'filter']]);
    assert.equal(rulesOf(t, 'KUBE-FORWARD').length, 4);
  });

  it('ensures a chain with -N (exit 1 "already exists": it was there) and a rule with -C then -A / -I', () => {
    const ex = new FakeExecutor().on('iptables', (argv) => {
      if (argv.includes('-N')) return { status: 1, stderr: 'iptables: Chain already exists.\n' };
      if (argv.includes('-C')) return { status: 1, stderr: 'iptables: Bad rule (does a matching rule exist in that chain?).\n' };
      return '';
    });
    const ipt = new Iptables({ executor: ex });
    assert.equal(ipt.ensureChain('nat', 'KUBE-SERVICES'), true);
    assert.equal(ipt.ensureRule('prepend', 'nat', 'OUTPUT', ['-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES']), false);
    assert.deepEqual(ex.callsOf('iptables').slice(1), [
      ['-w', '5', '-t', 'nat', '-C', 'OUTPUT', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES'],
      ['-w', '5', '-t', 'nat', '-I', 'OUTPUT', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES'],
    ]);
  });

  it('says whether MASQUERADE takes --random-fully from iptables --version (1.6.2 and later), asking once; the fake as it is told', () => {
    const answers = (version: string) => {
      const ex = new FakeExecutor().on('iptables', () => version);
      const ipt = new Iptables({ executor: ex });
      const said = [ipt.hasRandomFully(), ipt.hasRandomFully()];
      assert.deepEqual(ex.callsOf('iptables'), [['--version']]);
      return said[0];
    };
    assert.deepEqual(['iptables v1.6.1\n', 'iptables v1.6.2\n', 'iptables v1.8.9 (nf_tables)\n', 'iptables v2.0.0\n', 'iptables v1.4.21\n', ''].map(answers), [false, true, true, true, false, false]);
    const fake = new FakeIptables();
    assert.equal(fake.hasRandomFully(), false);
    fake.randomFully = true;
    assert.equal(fake.hasRandomFully(), true);
  });

  it('turns what the tools say into error codes', () => {
    const said = (stderr: string, status: number | null = 1) => codeOf(() => new Iptables({ executor: new FakeExecutor().on('iptables-restore', () => ({ status, stderr, ...(status === null ? { error: 'spawnSync ENOENT' } : {}) })) }).restore([]));
    assert.equal(said('iptables-restore v1.8.9 (nf_tables): Chain \'NOPE\' does not exist\n'), 'ENOENT');
    assert.equal(said('iptables-restore: line 2 failed: No chain/target/match by that name.\n'), 'ENOENT');
    assert.equal(said('line 2: CHAIN_DEL failed (Device or resource busy): chain B\n'), 'EBUSY');
    assert.equal(said('line 2: RULE_APPEND failed (Operation not supported): rule in chain A\n'), 'EOPNOTSUPP');
    assert.equal(said('line 3: RULE_APPEND failed (Invalid argument): rule in chain C\n'), 'EINVAL');
    assert.equal(said('', null), 'EEXEC');
    assert.equal(codeOf(() => new Iptables({ executor: new FakeExecutor().on('iptables', () => ({ status: 2, stderr: 'iptables v1.8.9: unknown option "--bogus"\n' })) }).ensureChain('nat', 'X')), 'EINVAL');
  });
});
