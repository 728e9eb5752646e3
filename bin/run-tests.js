#!/usr/bin/env node
// Runs the whole test suite with node's test runner, then checks that nothing the suite
// started is still alive and no network namespace of a test lab is left.
// Usage: node bin/run-tests.js [file-or-dir...]
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runId = randomUUID();
const started = Date.now();

function collect(p, out) {
  const st = fs.statSync(p);
  if (st.isDirectory()) {
    for (const e of fs.readdirSync(p).sort()) collect(path.join(p, e), out);
  } else if (p.endsWith('.test.ts')) out.push(p);
  return out;
}

const targets = process.argv.slice(2);
// The longest files first (a long one started last would end the run alone), the unit tests last,
// where they fill the gaps. How long each file took in a full run is in test/timings.json
// (`PODPATH_TEST_TIMES=test/timings.json npm test` writes it again); a file not there yet is
// guessed by its kind: a lab as a long file, another integration file as a medium one.
const timingsFile = path.join(root, 'test/timings.json');
const timings = fs.existsSync(timingsFile) ? JSON.parse(fs.readFileSync(timingsFile, 'utf8')) : {};
const guess = (f) => (path.basename(f).startsWith('lab-') ? 100 : f.includes(`${path.sep}integration${path.sep}`) ? 20 : 0);
const expected = (f) => timings[path.relative(root, f)] ?? guess(f);
const files = (targets.length ? targets : ['test']).flatMap((t) => collect(path.resolve(root, t), [])).sort((a, b) => expected(b) - expected(a) || (a < b ? -1 : 1));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

// Every lab or scratch namespace a test of this run builds is claimed here (test/helpers/lab.ts
// testName), so the check below looks only at this run's names, not at another run's beside it.
const claims = fs.mkdtempSync(path.join(os.tmpdir(), 'podpath-test-claims-'));
// Top-level tests and suites declared and ended, as files report them (test/helpers/completeness-reporter.js).
const unended = path.join(claims, '..', `podpath-test-unended-${runId}`);
const env = { ...process.env, PODPATH_TEST_RUN: runId, PODPATH_TEST_CLAIMS: claims, PODPATH_TEST_UNENDED: unended };
const res = spawnSync(
  process.execPath,
  [
    '--import', 'tsx', '--import', path.join(root, 'test/helpers/exit-after-flush.js'),
    // Three files at a time: labs spend much of their time waiting (probe periods, a CronJob's
    // minute, servers' timeouts), so two left a 2-CPU machine idle about a quarter of the time.
    '--test', `--test-concurrency=${process.env.PODPATH_TEST_CONCURRENCY ?? '3'}`, '--test-timeout=300000', '--test-force-exit',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${path.join(root, 'test/helpers/completeness-reporter.js')}`, '--test-reporter-destination=/dev/null',
    ...files,
  ],
  { cwd: root, env, stdio: 'inherit' },
);

/** Processes whose environment carries this run's marker (all were started by the suite). */
function leftoverProcesses() {
  const left = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (environ.includes(`PODPATH_TEST_RUN=${runId}`)) left.push(`${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`);
    } catch {
      // gone, or not ours to read
    }
  }
  return left;
}

/** This run's labs and scratch namespaces (names claimed in `claims`): their namespaces, /etc/netns files and state. */
function leftoverLabs() {
  const names = fs.readdirSync(claims);
  const ls = (dir, prefix) => {
    try {
      return fs.readdirSync(dir).filter((n) => names.some((name) => n === `${prefix}${name}` || n.startsWith(`${prefix}${name}-`))).map((n) => path.join(dir, n));
    } catch {
      return [];
    }
  };
  return [...ls('/run/netns', 'pp-'), ...ls('/etc/netns', 'pp-'), ...ls('/run/podpath', '')];
}

/** Top-level tests and suites that a file declared and never reported passed or failed, and the
 * time each file's top-level tests and suites took in all (ms; the file's imports not counted). */
function fileReport() {
  const open = new Set();
  const perFile = new Map();
  const lines = fs.existsSync(unended) ? fs.readFileSync(unended, 'utf8').split('\n') : [];
  for (const line of lines) {
    if (line.startsWith('+ ')) open.add(line.slice(2));
    else if (line.startsWith('- ')) open.delete(line.slice(2));
    else if (line.startsWith('= ')) {
      const [file, ms] = line.slice(2).split('\t');
      perFile.set(file, (perFile.get(file) ?? 0) + Number(ms));
    }
  }
  return { unended: [...open], perFile };
}

let leftovers = leftoverProcesses();
for (let i = 0; i < 20 && leftovers.length; i++) {
  spawnSync('sleep', ['0.25']);
  leftovers = leftoverProcesses();
}
const labs = leftoverLabs();
fs.rmSync(claims, { recursive: true, force: true });
const { unended: cutShort, perFile } = fileReport();
fs.rmSync(unended, { force: true });
if (process.env.PODPATH_TEST_TIMES && res.status === 0 && !targets.length) {
  // seconds, rounded: the order above needs no more
  const times = Object.fromEntries([...perFile].sort((a, b) => b[1] - a[1]).map(([f, ms]) => [path.relative(root, f), Math.round(ms / 100) / 10]));
  fs.writeFileSync(path.resolve(root, process.env.PODPATH_TEST_TIMES), `${JSON.stringify(times, null, 1)}\n`);
}
// The slowest files, so a suite growing past its time budget says where the time went.
const slowest = [...perFile].sort((a, b) => b[1] - a[1]).slice(0, 12);
if (slowest.length > 1) {
  console.log(`\nslowest test files, by their tests' time (the suite took ${Math.round((Date.now() - started) / 1000)} s, ${process.env.PODPATH_TEST_CONCURRENCY ?? '3'} files at a time):`);
  for (const [file, ms] of slowest) console.log(`  ${(ms / 1000).toFixed(1).padStart(7)} s  ${path.relative(root, file)}`);
}
if (cutShort.length) {
  console.error('\nthese tests were declared but never reported an end (a test file cut short):');
  for (const t of cutShort) console.error(`  ${t}`);
  if (res.status === 0) process.exit(1);
}
if (leftovers.length || labs.length) {
  console.error('\nthe test suite left things behind:');
  for (const l of leftovers) console.error(`  process ${l}`);
  for (const n of labs) console.error(`  lab file or network namespace ${n}`);
  process.exit(res.status === 0 ? 1 : res.status ?? 1);
}
process.exit(res.status ?? 1);
