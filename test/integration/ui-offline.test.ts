// `podpath ui -f`: the page in Debian's Chromium, offline from seed 001's objects — the topology,
// a NodePort path computed by the trace engine and drawn as a swimlane (the DNAT step showing
// the pod's address), the exports byte for byte what `podpath trace -o json|mermaid` prints, a
// NetworkPolicy's deny in red, diagnose's finding at the failing hop of a broken cluster's path,
// a userspace kube-proxy's own connection as a step of its own (over a node's captured rules),
// the rules tree, the token, the keyboard and both color schemes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { podpathBin, repoRoot, tempDir } from '../helpers/apiserver.ts';
import { launchBrowser, openPage, screenshot, startUI, type RunningUI } from '../helpers/ui.ts';
import { stringify as toYAML } from 'yaml';
import { wrongSelector } from '../unit/diagnose-helpers.ts';

const state = path.join(repoRoot, 'examples/trace/seed-001.yaml');
const nodePortURL = 'http://192.168.49.2:30080/health';

function podpathTrace(files: string[], args: string[]): string {
  const r = spawnSync(process.execPath, [podpathBin, 'trace', ...files.flatMap((f) => ['-f', f]), ...args], { encoding: 'utf8' });
  assert.ok(r.status === 0 || r.status === 3, r.stderr);
  return r.stdout;
}

/** Types a trace into the path form with the keyboard only and waits for the swimlane. */
async function traceWithKeyboard(page: Page, to: string): Promise<void> {
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'path-to');
  await page.keyboard.press('Control+A');
  await page.keyboard.type(to);
  await page.keyboard.press('Enter');
  await page.waitForFunction((t) => document.getElementById('view-path')?.dataset.traceTo === t, to);
}

async function exported(page: Page, button: string): Promise<string> {
  await page.click(button);
  await page.waitForSelector('dialog[open]');
  const text = await page.locator('#dialog-text').evaluate((e) => e.textContent ?? '');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog[open]', { state: 'detached' });
  return text;
}

describe('podpath ui -f, in Chromium', () => {
  let browser: Browser;
  let ui: RunningUI;
  let page: Page;
  let denyUI: RunningUI | undefined;
  let brokenUI: RunningUI | undefined;
  let userspaceUI: RunningUI | undefined;
  /** what the page logged as an error (a Content-Security-Policy violation is one) */
  const errors: string[] = [];

  before(async () => {
    ui = await startUI(['-f', state]);
    browser = await launchBrowser();
    page = await openPage(browser, ui.url, 'light', errors);
  });
  after(async () => {
    await browser?.close();
    await ui?.stop();
    await denyUI?.stop();
    await brokenUI?.stop();
    await userspaceUI?.stop();
  });

  it('refuses requests without the printed token', async () => {
    const base = new URL(ui.url);
    assert.equal(base.hostname, '127.0.0.1', 'loopback by default');
    for (const p of ['/', '/api/topology', '/api/trace?from=client&to=192.168.49.2:30080', '/?token=wrong']) {
      const r = await fetch(new URL(p, base.origin));
      assert.equal(r.status, 403, p);
    }
    assert.equal((await fetch(ui.url)).status, 200);
  });

  it('shows the node, the pods by namespace with their IPs and readiness, and the Service with its endpoints', async () => {
    await page.waitForSelector('[data-service="default/api-service"]');
    const node = page.locator('[data-node="minikube"]');
    assert.match(await node.innerText(), /192\.168\.49\.2[\s\S]*10\.244\.0\.0\/24[\s\S]*iptables/);
    const pods = node.locator('[data-namespace="default"] [data-pod]');
    assert.deepEqual(await pods.evaluateAll((es) => es.map((e) => `${e.getAttribute('data-pod')} ${e.getAttribute('data-ip')} ${e.className.includes('ready') ? 'ready' : ''}`)), [
      'default/api-server-6d4cf56db6-7xk2p 10.244.0.5 ready',
      'default/api-server-6d4cf56db6-q9m4t 10.244.0.6 ready',
      'default/curl 10.244.0.7 ready',
    ]);
    const svc = page.locator('[data-service="default/api-service"]');
    const text = await svc.innerText();
    assert.match(text, /NodePort\s+10\.96\.123\.45\s+8080:30080\/TCP/);
    assert.equal(await svc.locator('[data-ready-endpoints]').getAttribute('data-ready-endpoints'), '2');
    assert.deepEqual(await svc.locator('[data-endpoint]').evaluateAll((es) => es.map((e) => e.getAttribute('data-endpoint'))), ['10.244.0.5', '10.244.0.6']);
    await screenshot(page, 'offline-topology');
  });

  it('draws the NodePort path from the client, the DNAT step showing the pod, and exports exactly what podpath trace prints', async () => {
    await traceWithKeyboard(page, nodePortURL);
    assert.equal(await page.locator('.verdict').getAttribute('data-verdict'), 'delivered');
    // one lane per place, in path order
    assert.deepEqual(await page.locator('.lane-head').evaluateAll((es) => es.map((e) => e.getAttribute('data-lane'))), ['client', 'underlay', 'node/minikube', 'pod/default/api-server-6d4cf56db6-7xk2p']);
    const dnat = page.locator('.hop.rewrite[data-kind="netfilter"]').filter({ hasText: 'DNAT' });
    assert.equal(await dnat.count(), 1);
    assert.deepEqual(await dnat.locator('mark.dnat').allInnerTexts(), ['10.244.0.5', '8080']);
    // the page opens on that step: its evidence has the rule and the pod behind it
    const ev = page.locator('aside.evidence');
    assert.equal(await ev.getAttribute('data-step'), await dnat.getAttribute('data-step'));
    assert.match(await ev.innerText(), /-A KUBE-SEP-\w+ .*-j DNAT --to-destination 10\.244\.0\.5:8080/);
    assert.equal(await ev.locator('[data-object]').getAttribute('data-object'), 'Pod default/api-server-6d4cf56db6-7xk2p');
    // both endpoints of the random choice, with their probabilities
    assert.deepEqual(await page.locator('.cand').evaluateAll((es) => es.map((e) => `${e.getAttribute('data-candidate')} ${e.querySelector('.p')?.textContent} ${e.getAttribute('aria-pressed')}`)), [
      'default/api-server-6d4cf56db6-7xk2p 50.0% true',
      'default/api-server-6d4cf56db6-q9m4t 50.0% false',
    ]);
    await screenshot(page, 'offline-nodeport-path');
    assert.equal(await exported(page, '#export-json'), podpathTrace([state], ['--from', 'client', '--to', nodePortURL, '-o', 'json']));
    assert.equal(await exported(page, '#export-mermaid'), podpathTrace([state], ['--from', 'client', '--to', nodePortURL, '-o', 'mermaid']));
  });

  it('follows the other endpoint when it is chosen', async () => {
    await page.click('[data-candidate="default/api-server-6d4cf56db6-q9m4t"]');
    await page.waitForSelector('[data-lane="pod/default/api-server-6d4cf56db6-q9m4t"]');
    assert.deepEqual(await page.locator('.hop.rewrite[data-kind="netfilter"]').filter({ hasText: 'DNAT' }).locator('mark.dnat').allInnerTexts(), ['10.244.0.6', '8080']);
    assert.equal(await exported(page, '#export-json'), podpathTrace([state], ['--from', 'client', '--to', nodePortURL, '--endpoint', 'default/api-server-6d4cf56db6-q9m4t', '-o', 'json']));
  });

  it('moves between steps with the arrow keys and shows the object behind a step as YAML', async () => {
    await page.locator('.hop').first().focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('aside.evidence').getAttribute('data-step'), '2');
    await page.locator('.hop[data-kind="deliver"]').click();
    await page.locator('aside.evidence [data-object]').click();
    await page.waitForSelector('dialog[open]');
    const yaml = await page.locator('#dialog-text').innerText();
    assert.match(yaml, /^apiVersion: v1\nkind: Pod\nmetadata:\n {2}namespace: default\n {2}name: api-server-6d4cf56db6-q9m4t\n/);
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog[open]', { state: 'detached' });
  });

  it('draws a node\'s rules as a tree from KUBE-SERVICES to the endpoints, labelled with the Service and its pods', async () => {
    await page.keyboard.press('r');
    await page.waitForSelector('.tree');
    const svc = page.locator('.tree li[data-chain^="KUBE-SVC-"]').filter({ hasText: 'default/api-service cluster IP' }).first();
    assert.match(await svc.locator('summary').innerText(), /10\.96\.123\.45:8080\/tcp/);
    const eps = svc.locator('li[data-chain^="KUBE-SEP-"]');
    assert.deepEqual((await eps.allInnerTexts()).map((t) => /([\d.]+)% DNAT → ([\d.:]+)[\s\S]*(default\/api-server-\S+)/.exec(t)?.slice(1).join(' ')), [
      '50.0 10.244.0.5:8080 default/api-server-6d4cf56db6-7xk2p',
      '50.0 10.244.0.6:8080 default/api-server-6d4cf56db6-q9m4t',
    ]);
    await screenshot(page, 'offline-rules');
  });

  it('logged no error on the way (nothing the page policy refused, no script error)', () => {
    assert.deepEqual(errors, []);
  });

  it('shows a NetworkPolicy deny as a red verdict naming the policy, in the dark scheme too', async () => {
    const dir = tempDir('ui');
    const deny = path.join(dir, 'deny.yaml');
    fs.writeFileSync(deny, 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api-deny-all, namespace: default}\nspec:\n  podSelector: {matchLabels: {app: api}}\n  policyTypes: [Ingress]\n');
    denyUI = await startUI(['-f', state, '-f', deny]);
    const dark = await openPage(browser, denyUI.url, 'dark');
    await dark.waitForSelector('[data-policy="default/api-deny-all"]');
    assert.match(await dark.locator('[data-policy="default/api-deny-all"]').innerText(), /app=api[\s\S]*default\/api-server-6d4cf56db6-7xk2p/);
    await dark.keyboard.press('p');
    await traceWithKeyboard(dark, nodePortURL);
    assert.equal(await dark.locator('.verdict').getAttribute('data-verdict'), 'dropped');
    const layer = dark.locator('.layer[data-layer="netpol"]');
    assert.equal(await layer.getAttribute('data-state'), 'fail');
    assert.match(await layer.innerText(), /NetworkPolicy default\/api-deny-all/);
    const failing = dark.locator('.hop.fail');
    assert.equal(await failing.getAttribute('data-kind'), 'netpol');
    // red in either scheme: the failing layer's color is the scheme's --bad. The locator finds the
    // element, then reads it: a layer drawn again in between is read detached, with no computed
    // style (''), so it is read again, for at most 2 s.
    let [color, bad] = ['', ''];
    for (let i = 0; i < 40 && !color; i++) {
      [color, bad] = await layer.evaluate((e) => [getComputedStyle(e).color, getComputedStyle(document.documentElement).getPropertyValue('--bad').trim()]);
      if (!color) await dark.waitForTimeout(50);
    }
    assert.equal(color, 'rgb(255, 123, 114)');
    assert.equal(bad, '#ff7b72');
    await screenshot(dark, 'offline-netpol-deny-dark');
    assert.equal(await exported(dark, '#export-json'), podpathTrace([state, deny], ['--from', 'client', '--to', nodePortURL, '-o', 'json']));
    await dark.close();
  });

  it("shows diagnose's finding at the failing hop of a broken cluster's path, as podpath diagnose -f finds it", async () => {
    // seed 001 with the Service's selector misspelt (diagnose's own broken case), as a state file
    const o = wrongSelector();
    const file = path.join(tempDir('ui'), 'wrong-selector.yaml');
    fs.writeFileSync(file, Object.values(o).flat().map((x) => toYAML(x)).join('---\n'));
    brokenUI = await startUI(['-f', file]);
    const p = await openPage(browser, brokenUI.url, 'light', errors);
    await p.waitForSelector('[data-service="default/api-service"]');
    await p.keyboard.press('p');
    await p.selectOption('#path-from', 'pod/default/curl');
    await p.fill('#path-to', 'svc/default/api-service:8080');
    await p.keyboard.press('Enter');
    await p.waitForFunction(() => document.getElementById('view-path')?.dataset.traceTo === 'svc/default/api-service:8080');
    assert.equal(await p.locator('.verdict').getAttribute('data-verdict'), 'rejected');
    assert.equal(await p.locator('#path-observe').count(), 0, 'no Observe without a lab');
    const cli = spawnSync(process.execPath, [podpathBin, 'diagnose', '-f', file, '--from', 'pod/default/curl', '--to', 'svc/default/api-service:8080', '-o', 'json'], { encoding: 'utf8' });
    assert.equal(cli.status, 3, cli.stderr);
    const want = JSON.parse(cli.stdout) as { failing: { check: string; summary: string }; findings: { check: string; fix?: string }[] };
    assert.equal(want.failing.check, 'selector');
    // on the failing hop's card, and in its evidence (the page opens on that step)
    const card = p.locator('.hop.fail .hop-diagnosis');
    await card.waitFor();
    assert.equal(await card.getAttribute('data-check'), 'selector');
    assert.match(await card.innerText(), new RegExp(want.failing.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    const finding = p.locator('aside.evidence .diagnosis');
    assert.equal(await finding.getAttribute('data-check'), 'selector');
    assert.match(await finding.innerText(), /selector app=apl of Service default\/api-service matches no pod/);
    assert.ok((await finding.innerText()).includes(want.findings.find((f) => f.check === 'selector')!.fix!));
    await screenshot(p, 'offline-diagnose-finding');
    await p.close();
    assert.deepEqual(errors, []);
  });

  it("draws a userspace kube-proxy's own connection as a step of its own, over the node's captured rules, as podpath trace --node-rules computes it", async () => {
    const dir = path.join(repoRoot, 'test/fixtures/trace-observe-userspace');
    const files = ['-f', path.join(dir, 'objects.yaml'), '--node-rules', `tl3=${path.join(dir, 'node-save.txt')}`, '--mode', 'userspace'];
    userspaceUI = await startUI(files);
    const p = await openPage(browser, userspaceUI.url, 'light', errors);
    await p.waitForSelector('[data-service="default/api-service"]');
    await p.keyboard.press('p');
    await traceWithKeyboard(p, '192.168.49.2:30080');
    assert.equal(await p.locator('.verdict').getAttribute('data-verdict'), 'delivered');
    const proxy = p.locator('.hop[data-kind="proxy"]');
    assert.equal(await proxy.count(), 1);
    assert.match(await proxy.innerText(), /^kube-proxy/i);
    assert.equal(await proxy.evaluate((e) => getComputedStyle(e).borderLeftStyle), 'double');
    assert.equal(await p.locator('.layer[data-layer="proxy"]').getAttribute('data-state'), 'pass');
    // the onward connection, from the node to the pod, is the step's rewrite
    assert.deepEqual(await proxy.locator('mark').allInnerTexts(), ['10.244.0.1', await proxy.locator('mark').nth(1).innerText(), '10.244.0.2', '8080']);
    assert.match(await p.locator('.trace-notes').innerText(), /userspace mode: kube-proxy's own process accepts the connection/);
    await screenshot(p, 'offline-userspace-proxy');
    const r = spawnSync(process.execPath, [podpathBin, 'trace', ...files, '--from', 'client', '--to', '192.168.49.2:30080', '-o', 'json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await exported(p, '#export-json'), r.stdout);
    await p.close();
    assert.deepEqual(errors, []);
  });
});
