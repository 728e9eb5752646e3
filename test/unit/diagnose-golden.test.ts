// `podpath diagnose`'s text and JSON for a healthy Service, a misspelt selector (offline) and
// kube-proxy stopped with its rules flushed (live facts), against golden files;
// PODPATH_UPDATE_GOLDEN=1 rewrites them. The CLI itself: the same text, and its exit statuses
// (0 all passed, 3 a check failed, 1 bad input).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { diagnosisJSON } from '../../src/diagnose/json.ts';
import { diagnosisText } from '../../src/diagnose/text.ts';
import type { Diagnosis } from '../../src/diagnose/types.ts';
import { kubeProxyStoppedFacts, repoRoot, run, seed, wrongSelector } from './diagnose-helpers.ts';

const cases: { name: string; d: () => Diagnosis }[] = [
  { name: 'seed-001-healthy', d: () => run(seed('seed-001'), { target: 'svc/default/api-service' }) },
  { name: 'wrong-selector', d: () => run(wrongSelector(), { target: 'svc/default/api-service', from: 'pod/default/curl' }) },
  { name: 'kube-proxy-stopped', d: () => run(seed('seed-001'), { target: 'svc/default/api-service' }, { facts: kubeProxyStoppedFacts() }) },
];

const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'diagnose', ...args], { cwd: repoRoot, encoding: 'utf8' });

describe('diagnose golden files', () => {
  for (const c of cases) {
    for (const [ext, render] of [['txt', diagnosisText], ['json', diagnosisJSON]] as const) {
      it(`${c.name} ${ext}`, () => {
        const golden = path.join(repoRoot, `test/golden/diagnose-${c.name}.${ext}`);
        const got = render(c.d());
        if (process.env.PODPATH_UPDATE_GOLDEN) fs.writeFileSync(golden, got);
        assert.equal(got, fs.readFileSync(golden, 'utf8'));
      });
    }
  }

  it('the CLI prints the same text and exits 0 when every check passes, 3 when one fails', () => {
    const ok = cli(['-f', path.join(repoRoot, 'examples/trace/seed-001.yaml'), 'svc/default/api-service']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, fs.readFileSync(path.join(repoRoot, 'test/golden/diagnose-seed-001-healthy.txt'), 'utf8'));
    const bad = cli(['-f', path.join(repoRoot, 'examples/trace/seed-001.yaml'), 'svc/default/api-servic', '-o', 'json']);
    assert.equal(bad.status, 3, bad.stderr);
    assert.equal(JSON.parse(bad.stdout).failing.check, 'service');
  });

  it('bad input exits 1 naming what was wrong, and prints no diagnosis', () => {
    const r = cli(['-f', path.join(repoRoot, 'examples/trace/seed-001.yaml'), 'deployment/default/api-server']);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^podpath: deployment\/default\/api-server: expected svc\/NAMESPACE\/NAME\[:PORT\] or ingress\/NAMESPACE\/NAME\n/);
    const f = cli(['-f', path.join(repoRoot, 'examples/trace/seed-001.yaml'), 'svc/default/api-service', '--from', 'pod/default/nope']);
    assert.equal(f.status, 1);
    assert.match(f.stderr, /--from pod\/default\/nope: no Pod default\/nope/);
  });
});
