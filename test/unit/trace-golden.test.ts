// `podpath trace`'s three outputs for the seeds' two requests — seed 001's NodePort request from
// the client, seed 000's Ingress request for app.example.com — in iptables and nftables modes,
// against golden files checked hop by hop against `podpath proxy render`'s rules.
// PODPATH_UPDATE_GOLDEN=1 rewrites them. The CLI itself runs once per seed: same text, exit 0.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { traceJSON } from '../../src/trace/json.ts';
import { traceMermaid } from '../../src/trace/mermaid.ts';
import { readTraceState, traceObjects } from '../../src/trace/offline.ts';
import { traceText } from '../../src/trace/text.ts';
import { labPlan } from './trace-helpers.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const cases = [
  { name: 'seed-001', file: 'examples/trace/seed-001.yaml', from: 'client', to: 'http://192.168.49.2:30080/health' },
  { name: 'seed-000', file: 'examples/trace/seed-000.yaml', from: 'client', to: 'https://app.example.com/api/v1/hello' },
];
const outputs = [
  { ext: 'txt', render: traceText },
  { ext: 'json', render: traceJSON },
  { ext: 'mmd', render: traceMermaid },
];

describe('trace golden files', () => {
  for (const c of cases) {
    for (const mode of ['iptables', 'nftables']) {
      const t = traceObjects(readTraceState([path.join(repoRoot, c.file)]), labPlan, mode, { from: c.from, to: c.to });
      for (const o of outputs) {
        it(`${c.name} ${mode} ${o.ext}`, () => {
          const golden = path.join(repoRoot, `test/golden/trace-${c.name}-${mode}.${o.ext}`);
          const got = o.render(t);
          if (process.env.PODPATH_UPDATE_GOLDEN) fs.writeFileSync(golden, got);
          assert.equal(got, fs.readFileSync(golden, 'utf8'));
        });
      }
    }
  }

  it('the CLI prints the same text and exits 0 when delivered', () => {
    const c = cases[0]!;
    const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'trace', '-f', path.join(repoRoot, c.file), '--from', c.from, '--to', c.to], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(out, fs.readFileSync(path.join(repoRoot, 'test/golden/trace-seed-001-iptables.txt'), 'utf8'));
  });
});
