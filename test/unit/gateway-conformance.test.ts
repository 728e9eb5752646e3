// `podpath gateway route` against the Gateway API conformance suite's HTTPRoute cases: each
// fixture (test/fixtures/gateway/NAME.json) names the suite's state files (its shared objects and
// the test's own manifests), the Gateway, the requests the suite's NAME.go sends and what it
// expects — the backend, status, rewritten request, redirect, response headers — in the JSON
// fields `route -o json` prints, and the route status conditions and listeners' attachedRoutes
// the suite checks. Routed through
// routeFiles, the function the CLI calls.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { routeFiles } from '../../src/gateway/offline.ts';
import type { RouteResult } from '../../src/gateway/route.ts';
import { repoRoot } from '../helpers/netpol.ts';

const dir = path.join(repoRoot, 'test/fixtures/gateway');

interface Request {
  url: string;
  method?: string;
  headers?: string[];
  expect: Record<string, unknown>;
}
interface Fixture {
  about: string;
  source: string;
  files: string[];
  gateway: string;
  requests: Request[];
  more?: { gateway: string; requests: Request[] }[];
  status?: Record<string, { type: string; status: string; reason: string }[]>;
  /** per Gateway, each listener's attachedRoutes */
  attached?: Record<string, Record<string, number>>;
}

const show = (r: Request) => `${r.method ?? 'GET'} ${r.url}${r.headers?.length ? ` ${r.headers.map((h) => `[${h}]`).join(' ')}` : ''}`;

for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const fx = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as Fixture;
  const files = fx.files.map((f) => path.join(dir, f));
  describe(`${name.replace(/\.json$/, '')}: ${fx.about}`, () => {
    for (const group of [{ gateway: fx.gateway, requests: fx.requests }, ...(fx.more ?? [])]) {
      for (const r of group.requests) {
        it(`${group.gateway}: ${show(r)} → ${r.expect.status}`, () => {
          const got = routeFiles(files, { url: r.url, gateway: group.gateway, headers: r.headers ?? [], method: r.method ?? 'GET' });
          const picked = Object.fromEntries(Object.keys(r.expect).map((k) => [k, got[k as keyof RouteResult]]));
          assert.deepEqual(picked, r.expect, got.reason);
        });
      }
    }
    if (fx.status) {
      it('route status conditions', () => {
        const got = routeFiles(files, { url: 'http://192.0.2.10/', gateway: fx.gateway, headers: [], method: 'GET' });
        for (const [route, want] of Object.entries(fx.status!)) {
          const st = got.routes.find((x) => x.route === route);
          assert.ok(st, `no status for ${route} on ${fx.gateway}: ${got.routes.map((x) => x.route).join(', ')}`);
          for (const p of st.parents) assert.deepEqual(p.conditions.map(({ type, status, reason }) => ({ type, status, reason })), want, JSON.stringify(p.conditions));
        }
      });
    }
    for (const [gateway, want] of Object.entries(fx.attached ?? {})) {
      it(`${gateway}: attachedRoutes of each listener`, () => {
        const got = routeFiles(files, { url: 'http://192.0.2.10/', gateway, headers: [], method: 'GET' });
        assert.deepEqual(Object.fromEntries(got.listeners.map((l) => [l.name, l.attachedRoutes])), want);
      });
    }
  });
}
