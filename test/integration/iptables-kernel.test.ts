// src/iptables against the real iptables-restore / iptables-save (iptables-nft here) in a network
// namespace of the test's own: podpath's restore inputs load through the Interface, what
// iptables-save prints reads back and writes out byte for byte, its rules mean what the input's
// did, and the kernel refuses what the fake refuses, with the same codes, changing nothing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commandExists, run } from '../../src/exec/exec.ts';
import { FakeIptables, IptError, Iptables, matchParam, parseDump, parseRuleSpec, rulesOf, serializeDump, type Rule, type Table, type TableName } from '../../src/iptables/index.ts';
import { repoRoot } from '../helpers/apiserver.ts';
import { isRoot } from '../helpers/lab.ts';
import { codeOf as codes } from '../fixtures/codes.ts';
import { testLabPrefix } from '../helpers/lab.ts';

const skip = !isRoot ? 'needs root for a network namespace' : !commandExists('iptables-restore') ? 'iptables is not installed' : false;
// Named as the suite's labs, so its leftover check would see it.
const ns = `pp-${testLabPrefix}${randomBytes(3).toString('hex')}-ipt`;
const codeOf = (f: () => void) => codes(f, IptError);
const golden = (name: string) => parseDump(fs.readFileSync(path.join(repoRoot, 'test/golden', name), 'utf8'));
const save = (...args: string[]) => run(['iptables-save', ...args], { netns: ns });
/** iptables-save output without its dated comment lines. */
const undated = (text: string) => text.split('\n').filter((l) => !l.startsWith('#')).join('\n');

/** What a rule means, as far as spelling goes: iptables-save writes addresses as /32, options in its own order. */
function meaning(r: Rule) {
  const s = parseRuleSpec(r.args);
  const addr = (a?: { value: string; negated: boolean }) => a && `${a.negated ? '!' : ''}${a.value.replace(/\/32$/, '')}`;
  return {
    comment: s.comment,
    protocol: s.protocol?.value,
    source: addr(s.source),
    destination: addr(s.destination),
    dport: matchParam(s, undefined, 'dport')?.values.join(),
    recent: s.matches.find((m) => m.module === 'recent')?.params.map((p) => p.name).filter((n) => n !== 'mask' && n !== 'rsource').sort().join(),
    target: s.target?.name,
    to: s.target?.params.find((p) => p.name === 'to-destination')?.values.join(),
  };
}

describe('iptables on the kernel', { skip }, () => {
  const ipt = new Iptables({ netns: ns });
  const fake = new FakeIptables();
  // upstream's overall case counts some packets in nfacct objects this namespace does not have
  const overall = golden('proxy-iptables-upstream-overall.txt').map((t): Table => ({ ...t, ops: t.ops.filter((o) => o.op !== 'append' || !parseRuleSpec(o.rule.args).matches.some((m) => m.module === 'nfacct')) }));

  before(() => {
    run(['ip', 'netns', 'add', ns]);
  });
  after(() => {
    run(['ip', 'netns', 'del', ns], { allowFail: true });
  });

  it('restores podpath\'s inputs, and what iptables-save then prints reads and writes back byte for byte', () => {
    for (const input of [golden('proxy-iptables-seed-001.txt'), overall]) {
      ipt.restore(input, { noflush: true });
      fake.restore(input, { noflush: true });
    }
    for (const args of [[], ['-c'], ['-t', 'nat']]) {
      const text = save(...args);
      assert.equal(serializeDump(parseDump(text), 'save'), text, `iptables-save ${args.join(' ')}`);
    }
  });

  it('reads back rules that mean what the restored ones meant, chain for chain', () => {
    for (const t of overall) {
      const saved = ipt.save(t.name);
      const chains = new Set(t.chains.map((c) => c.name));
      assert.deepEqual(saved.chains.map((c) => c.name).filter((c) => chains.has(c)).sort(), [...chains].sort());
      for (const c of chains) assert.deepEqual(rulesOf(saved, c).map(meaning), rulesOf(t, c).map(meaning), `${t.name} ${c}`);
    }
  });

  it('holds the chains and rules the fake holds', () => {
    for (const name of ['filter', 'nat'] as TableName[]) {
      const real = ipt.save(name);
      const faked = fake.save(name);
      assert.deepEqual(real.chains.map((c) => [c.name, c.policy]), faked.chains.map((c) => [c.name, c.policy]), name);
      for (const c of real.chains) assert.deepEqual(rulesOf(real, c.name).map(meaning), rulesOf(faked, c.name).map(meaning), `${name} ${c.name}`);
    }
  });

  it('writes comments with quotes, backslashes and nothing in them so that they come back the same', () => {
    const comments = ['it\'s a "test" \\ x', '', 'ns1/svc1:p80 cluster IP', 'a_b-C'];
    for (const c of comments) assert.equal(ipt.ensureRule('append', 'nat', 'KUBE-MARK-MASQ', ['-m', 'comment', '--comment', c, '-j', 'RETURN']), false);
    const back = rulesOf(ipt.save('nat'), 'KUBE-MARK-MASQ').slice(1).map((r) => parseRuleSpec(r.args).comment);
    assert.deepEqual(back, comments);
    const text = save('-t', 'nat');
    assert.equal(serializeDump(parseDump(text), 'save'), text);
    // and through a restore of what was saved (in kube-proxy's quoting)
    ipt.restore(parseDump(text), { noflush: true });
    assert.equal(undated(save('-t', 'nat')), undated(text));
  });

  it('ensures chains and rules as the fake does', () => {
    for (const x of [ipt, fake]) {
      assert.equal(x.hasChain('filter', 'PODPATH-TEST'), false);
      assert.equal(x.ensureChain('filter', 'PODPATH-TEST'), false);
      assert.equal(x.ensureChain('filter', 'PODPATH-TEST'), true);
      assert.equal(x.hasChain('filter', 'PODPATH-TEST'), true);
      const jump = ['-m', 'comment', '--comment', 'podpath test', '-j', 'PODPATH-TEST'];
      assert.equal(x.ensureRule('prepend', 'filter', 'INPUT', jump), false);
      assert.equal(x.ensureRule('prepend', 'filter', 'INPUT', jump), true);
      assert.equal(codeOf(() => x.ensureRule('append', 'filter', 'INPUT', ['-j', 'NO-SUCH-CHAIN'])), 'ENOENT');
    }
    assert.deepEqual(rulesOf(ipt.save('filter'), 'INPUT').map(meaning), rulesOf(fake.save('filter'), 'INPUT').map(meaning));
  });

  const refusals: [string, string][] = [
    ['a rule in a missing chain', '*nat\n-A NOPE -j RETURN\nCOMMIT\n'],
    ['a jump to a missing chain', '*nat\n-A KUBE-MARK-MASQ -j NOPE\nCOMMIT\n'],
    // declared, so the built-in chain exists in the kernel (iptables-nft creates them when first used)
    ['a jump to a built-in chain', '*nat\n:OUTPUT ACCEPT [0:0]\n-A KUBE-MARK-MASQ -j OUTPUT\nCOMMIT\n'],
    ['DNAT in the filter table', '*filter\n-A KUBE-FORWARD -p tcp -j DNAT --to-destination 1.2.3.4:80\nCOMMIT\n'],
    ['REJECT in the nat table', '*nat\n-A KUBE-MARK-MASQ -j REJECT\nCOMMIT\n'],
    ['deleting a chain a rule jumps to', '*nat\n:KUBE-SEP-PRXHNDQBMTWYAWZA - [0:0]\n-X KUBE-SEP-PRXHNDQBMTWYAWZA\nCOMMIT\n'],
    ['deleting a chain with rules', '*nat\n-X KUBE-SVC-JKKS4F2RVJTCP5JI\nCOMMIT\n'],
    ['deleting a missing chain', '*nat\n-X NOPE\nCOMMIT\n'],
    ['creating an existing chain', '*nat\n-N KUBE-MARK-MASQ\nCOMMIT\n'],
    ['deleting a missing rule', '*nat\n-D KUBE-MARK-MASQ -j NOPE-RULE\nCOMMIT\n'],
  ];
  refusals.forEach(([what, text], i) => {
    it(`iptables-restore refuses ${what} with the fake's code: that table all or nothing, the one committed before it kept`, () => {
      const input = parseDump(`*filter\n:PODPATH-NEW-${i} - [0:0]\nCOMMIT\n${text.replace('COMMIT', `-N PODPATH-NEW-CHAIN\nCOMMIT`)}`);
      const code = codeOf(() => fake.restore(input, { noflush: true }));
      assert.notEqual(code, 'no error');
      const failing = input[1]!.name;
      const before = undated(save('-t', failing));
      assert.equal(codeOf(() => ipt.restore(input, { noflush: true })), code);
      for (const x of [ipt, fake]) {
        assert.equal(x.hasChain('filter', `PODPATH-NEW-${i}`), true);
        assert.equal(x.hasChain(failing, 'PODPATH-NEW-CHAIN'), false);
      }
      if (failing === 'nat') assert.equal(undated(save('-t', 'nat')), before);
    });
  });
});
