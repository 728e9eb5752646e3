// `podpath netpol matrix|check` over the example topology: the table's exact layout, the check's
// words and exit status, and bad input named with a non-zero exit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { formatMatrix, parseMatrix } from '../../src/netpol/matrix.ts';
import { checkText, matrixText, readCluster } from '../../src/netpol/offline.ts';
import { examplesDir, repoRoot } from '../helpers/netpol.ts';

const pol = (f: string) => path.join(examplesDir, 'policies', f);
const podpath = (...args: string[]) => spawnSync(process.execPath, [path.join(repoRoot, 'bin/podpath.js'), ...args], { encoding: 'utf8', timeout: 60_000 });

describe('netpol matrix', () => {
  it('prints the e2e truth table: header of columns, one line per client, columns as wide as their headers', () => {
    assert.equal(
      matrixText([examplesDir, pol('default-deny.yaml'), pol('allow-from-namespace.yaml')], '80', 'TCP'),
      [
        'from\\to x/a x/b x/c y/a y/b y/c z/a z/b z/c',
        'x/a     .   X   X   .   .   .   .   .   .',
        'x/b     X   .   X   .   .   .   .   .   .',
        'x/c     X   X   .   .   .   .   .   .   .',
        'y/a     .   .   .   .   .   .   .   .   .',
        'y/b     .   .   .   .   .   .   .   .   .',
        'y/c     .   .   .   .   .   .   .   .   .',
        'z/a     X   X   X   .   .   .   .   .   .',
        'z/b     X   X   X   .   .   .   .   .   .',
        'z/c     X   X   X   .   .   .   .   .   .',
        '',
      ].join('\n'),
    );
  });

  it('pads the first column to the longest pod name and each column to its header', () => {
    const text = formatMatrix({ pods: ['default/frontend', 'x/a'], allowed: [[true, false], [false, true]] });
    assert.equal(text, 'from\\to          default/frontend x/a\ndefault/frontend .                X\nx/a              X                .\n');
    assert.deepEqual(parseMatrix(text), { pods: ['default/frontend', 'x/a'], allowed: [[true, false], [false, true]] });
  });

  it('takes --port and --protocol: the named-port example opens 81/TCP only', () => {
    const m81 = parseMatrix(matrixText([examplesDir, pol('allow-named-port.yaml')], '81', 'TCP'));
    assert.ok(m81.allowed.every((row) => row[0]));
    const m80 = parseMatrix(matrixText([examplesDir, pol('allow-named-port.yaml')], '80', 'udp'));
    assert.deepEqual(m80.allowed.map((row) => row[0]), [true, false, false, false, false, false, false, false, false]);
  });

  it("computes the seeds' example (seed 003 §9): backend from frontend on 8080, backend to database on 3306 only", () => {
    const seed = path.join(examplesDir, 'seed-003');
    const c = readCluster([seed]);
    assert.equal(c.policies[0]!.metadata.namespace, 'default', 'namespaced objects default to "default"');
    const m8080 = parseMatrix(matrixText([seed], '8080', 'TCP'));
    assert.deepEqual(m8080.pods, ['default/backend', 'default/database', 'default/frontend', 'default/other']);
    // rows: from backend, database, frontend, other; column 0: to backend
    assert.deepEqual(m8080.allowed.map((r) => r[0]), [true, false, true, false]);
    assert.deepEqual(m8080.allowed[0], [true, false, false, false], 'backend may open nothing but 3306 to database');
    const m3306 = parseMatrix(matrixText([seed], '3306', 'TCP'));
    assert.deepEqual(m3306.allowed[0], [true, true, false, false]);
    assert.equal(checkText([seed], { from: 'default/backend', to: '10.96.0.10', port: '53', protocol: 'UDP' }).allowed, false, 'not even DNS');
  });
});

describe('netpol check', () => {
  it('says allowed or denied, naming policies and rules', () => {
    const files = [examplesDir, pol('allow-named-port.yaml')];
    const yes = checkText(files, { from: 'y/b', to: 'x/a', port: '81', protocol: 'TCP' });
    assert.equal(yes.allowed, true);
    assert.match(yes.text, /allowed by x\/allow-to-serve-81-tcp ingress\[0\]/);
    const no = checkText(files, { from: 'y/b', to: 'x/a', port: '80', protocol: 'TCP' });
    assert.equal(no.allowed, false);
    assert.match(no.text, /x\/a is isolated by x\/allow-to-serve-81-tcp; no rule allows this/);
  });

  it('exits 0 when allowed, 3 when denied; bad input is named with exit status 1', () => {
    const base = ['netpol', 'check', '-f', examplesDir, '-f', pol('default-deny.yaml'), '--to', 'x/a', '--port', '80'];
    const denied = podpath(...base, '--from', 'y/a');
    assert.equal(denied.status, 3, denied.stderr);
    assert.match(denied.stdout, /^y\/a -> x\/a 80\/TCP: denied\n/);
    const allowed = podpath('netpol', 'check', '-f', examplesDir, '--from', 'x/a', '--to', 'y/a', '--port', '80');
    assert.equal(allowed.status, 0, allowed.stderr);
    const unknown = podpath(...base, '--from', 'y/q');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /pod y\/q is not in the state/);
    const missing = podpath('netpol', 'matrix', '-f', '/nonexistent/state.yaml');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot read \/nonexistent\/state\.yaml: no such file/);
  });
});

describe('the example pods run podpath/echo on every containerPort', () => {
  it('HTTP on each TCP port, the UDP echo on each UDP port', async () => {
    const { containerCommand } = await import('../../src/agent/images.ts');
    const c = readCluster([examplesDir]).pods[0]!.spec.containers[0]!;
    assert.deepEqual(containerCommand(c, ['podpath'], () => ''), { argv: ['podpath', 'image', 'echo', '--port', '80', '--port', '81', '--udp-port', '80', '--udp-port', '81'], etcDirs: [], builtin: true });
    // UDP only: HTTP stays on the first port, as before
    assert.deepEqual(containerCommand({ name: 'u', image: 'podpath/echo', ports: [{ containerPort: 5300, protocol: 'UDP' }] }, ['podpath'], () => ''), { argv: ['podpath', 'image', 'echo', '--port', '5300', '--udp-port', '5300'], etcDirs: [], builtin: true });
  });
});
