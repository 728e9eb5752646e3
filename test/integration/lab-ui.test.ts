// `podpath ui` against a real one-node lab running seed 001, in Chromium: the page lists the
// Deployment's pods and the NodePort Service, a scale shows without a reload (pushed through the
// server's watches), client → 192.168.49.2:30080 is drawn to one of the pods with the DNAT step
// showing its address — the very JSON `podpath trace --name` prints —, Observe marks the steps
// the kernel reported and names the pod it chose (and leaves no trace rule behind), and a
// NetworkPolicy that denies it turns the verdict red, naming the policy and diagnose's finding —
// the kernel's own rule in podpath's policy table — as the kernel agrees (the connection really
// fails). Screenshots go to test-results/ui.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { repoRoot } from '../helpers/apiserver.ts';
import { isRoot, pods, startLab, type TestLab } from '../helpers/lab.ts';
import { launchBrowser, openPage, screenshot, startUI, type RunningUI } from '../helpers/ui.ts';

const seed = path.join(repoRoot, 'examples/seed-001');
const denyPolicy = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api-deny-all, namespace: default}\nspec:\n  podSelector: {matchLabels: {app: api}}\n  policyTypes: [Ingress]\n';

/** The JSON the page's export shows. */
async function exportedJSON(page: Page): Promise<string> {
  await page.click('#export-json');
  await page.waitForSelector('dialog[open]');
  const text = await page.locator('#dialog-text').evaluate((e) => e.textContent ?? '');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog[open]', { state: 'detached' });
  return text;
}

/** The lab's network namespaces that hold a trace table (`podpath-trace-PID`). */
function traceTablesLeft(lab: TestLab): string[] {
  const nss = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`pp-${lab.name}-`));
  return nss.filter((ns) => /podpath-trace/.test(spawnSync('nsenter', [`--net=/run/netns/${ns}`, 'nft', 'list', 'tables'], { encoding: 'utf8' }).stdout));
}

const listedPods = (page: Page) => page.locator('[data-pod^="default/api-server-"]').evaluateAll((es) => es.map((e) => `${e.getAttribute('data-pod')} ${e.getAttribute('data-ip')}`).sort());

describe('podpath ui with a lab, in Chromium', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  let ui: RunningUI;
  let browser: Browser;
  let page: Page;

  before(async () => {
    lab = await startLab({ files: [seed], tag: 'ui', args: ['--no-dns'] });
    ui = await startUI(['--name', lab.name]);
    browser = await launchBrowser();
    page = await openPage(browser, ui.url);
  });
  after(async () => {
    await browser?.close();
    await ui?.stop();
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
  });

  it("lists seed 001's pods with their IPs and the NodePort Service with its endpoints", async () => {
    const want = pods(lab, 'app=api').map((p) => `default/${p.name} ${p.ip}`).sort();
    assert.equal(want.length, 2);
    await page.waitForFunction((n) => document.querySelectorAll('[data-pod^="default/api-server-"]').length === n, want.length);
    assert.deepEqual(await listedPods(page), want);
    const svc = page.locator('[data-service="default/api-service"]');
    assert.match(await svc.innerText(), /NodePort\s+10\.\d+\.\d+\.\d+\s+8080:30080\/TCP/);
    assert.equal(await svc.locator('[data-ready-endpoints]').getAttribute('data-ready-endpoints'), '2');
    assert.match(await page.locator(`[data-node="${lab.name}"]`).innerText(), /192\.168\.49\.2[\s\S]*10\.244\.0\.0\/24[\s\S]*iptables/);
    assert.match(await page.locator('.status').innerText(), /live/);
    await screenshot(page, 'lab-topology');
  });

  it('reaches the same cluster through a kubeconfig', async () => {
    const other = await startUI(['--kubeconfig', lab.kubeconfig]);
    try {
      const first = await fetch(other.url);
      const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
      const topo = (await (await fetch(new URL('/api/topology', other.url), { headers: { Cookie: cookie } })).json()) as { live: boolean; nodes: { name: string }[]; services: { name: string }[] };
      assert.equal(topo.live, true);
      assert.deepEqual(topo.nodes.map((n) => n.name), [lab.name]);
      assert.ok(topo.services.some((s) => s.name === 'api-service'));
    } finally {
      await other.stop();
    }
  });

  it('shows a scale of the Deployment without a reload', async () => {
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    lab.ok(['scale', 'deployment/api-server', '--replicas=3']);
    // the third pod appears, then its endpoint turns ready once its probe passes
    await page.waitForFunction(() => document.querySelectorAll('[data-pod^="default/api-server-"]').length === 3, undefined, { timeout: 30_000 });
    await page.waitForFunction(() => document.querySelector('[data-service="default/api-service"] [data-ready-endpoints]')?.getAttribute('data-ready-endpoints') === '3', undefined, { timeout: 60_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true);
    assert.deepEqual(await listedPods(page), pods(lab, 'app=api').map((p) => `default/${p.name} ${p.ip}`).sort());
    await screenshot(page, 'lab-scaled');
  });

  it('draws client → 192.168.49.2:30080 as the NodePort path ending at one of the pods, the DNAT step showing its address', async () => {
    await page.keyboard.press('p');
    await page.selectOption('#path-from', 'client');
    await page.fill('#path-to', '192.168.49.2:30080');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.verdict[data-verdict]');
    assert.equal(await page.locator('.verdict').getAttribute('data-verdict'), 'delivered');
    const byName = new Map(pods(lab, 'app=api').map((p) => [`default/${p.name}`, p.ip]));
    const lanes = await page.locator('.lane-head').evaluateAll((es) => es.map((e) => e.getAttribute('data-lane') ?? ''));
    assert.deepEqual(lanes.slice(0, 3), ['client', 'underlay', `node/${lab.name}`]);
    const endPod = lanes[3]!.replace(/^pod\//, '');
    assert.ok(byName.has(endPod), `the path ends at ${lanes[3]}, not at one of ${[...byName.keys()].join(', ')}`);
    const dnat = page.locator('.hop.rewrite[data-kind="netfilter"]').filter({ hasText: 'DNAT' });
    assert.deepEqual(await dnat.locator('mark.dnat').allInnerTexts(), [byName.get(endPod)!, '8080']);
    assert.equal(await page.locator('.cand').count(), 3, 'three endpoints to choose from');
    assert.equal(await page.locator('.hop[data-kind="deliver"]').count(), 1);
    // and the kernel delivers it
    const r = lab.curl('client', 'http://192.168.49.2:30080/health');
    assert.equal(r.code, 0, r.stderr);
    await screenshot(page, 'lab-nodeport-path');
    // the page's path is podpath trace's, each node's rules read from its kernel
    const cli = lab.podpath(['trace', '--from', 'client', '--to', '192.168.49.2:30080', '-o', 'json']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(await exportedJSON(page), cli.stdout);
  });

  it('observes the path: each step the kernel reported marked, the pod it chose named, no trace rule left', async () => {
    await page.click('#path-observe');
    await page.waitForSelector('.observation[data-observed-verdict]', { timeout: 60_000 });
    assert.equal(await page.locator('.observation').getAttribute('data-observed-verdict'), 'delivered');
    const t = JSON.parse(await exportedJSON(page)) as { endpoint?: { pod: string }; hops: { step: number; kind: string; observed?: boolean }[]; observed: { endpoint?: { pod: string; ip: string }; differences: string[]; probe: { ok: boolean; answer?: string } } };
    // the kernel's choice, named on the page, is the pod that answered the probe and the path's end
    const chosen = t.observed.endpoint!;
    assert.equal(await page.locator('.kernel-endpoint').getAttribute('data-endpoint'), chosen.pod);
    assert.match(await page.locator('.kernel-endpoint').innerText(), new RegExp(`${chosen.pod}[\\s\\S]*${chosen.ip.replace(/\./g, '\\.')}:8080`));
    assert.equal(t.endpoint?.pod, chosen.pod);
    assert.ok(pods(lab, 'app=api').some((p) => `default/${p.name}` === chosen.pod), chosen.pod);
    assert.ok(t.observed.probe.ok, t.observed.probe.answer);
    // every step the kernel reports is marked on its card, as the JSON says
    const marks = await page.locator('.hop[data-observed]').evaluateAll((es) => es.map((e) => `${e.getAttribute('data-step')} ${e.getAttribute('data-observed')}`));
    assert.deepEqual(marks, t.hops.filter((x) => x.observed !== undefined).map((x) => `${x.step} ${x.observed ? 'observed' : 'unseen'}`));
    assert.ok(marks.filter((m) => m.endsWith(' observed')).length >= 8, marks.join(', '));
    assert.equal(await page.locator('[data-lane^="pod/"]').getAttribute('data-lane'), `pod/${chosen.pod}`);
    // the differences, listed (none on this path)
    assert.deepEqual(t.observed.differences, []);
    assert.match(await page.locator('.observation').innerText(), /the kernel took the computed path/);
    await screenshot(page, 'lab-observed');
    assert.deepEqual(traceTablesLeft(lab), []);
    // back to the computed path, which follows the cluster's changes
    await page.click('#path-go');
    await page.waitForSelector('.observation', { state: 'detached' });
  });

  it('keeps what is being typed into the path form while the cluster changes', async () => {
    const generation = await page.locator('#view-topology').getAttribute('data-generation');
    await page.fill('#path-to', 'svc/default/api-se');
    // a pod's annotation: the topology changes, kube-proxy's rules (and their counters) do not
    lab.ok(['annotate', 'pod', pods(lab, 'app=api')[0]!.name, 'podpath.test/typing=1']);
    await page.waitForFunction((g) => document.querySelector('#view-topology')?.getAttribute('data-generation') !== g, generation, { timeout: 20_000 });
    assert.equal(await page.inputValue('#path-to'), 'svc/default/api-se', 'a change that adds no choice leaves the form as it is');
    await page.fill('#path-to', '192.168.49.2:30080');
    // the keys that switch views are not typed into the form
    await page.locator('#path-to').blur();
  });

  it("draws the node's rules from its kernel, with the packet counters of the connection just made", async () => {
    await page.keyboard.press('r');
    await page.waitForSelector('.tree');
    assert.match(await page.locator('#view-rules').innerText(), /read from the node's kernel/);
    const svc = page.locator('.tree li[data-chain^="KUBE-EXT-"]').first();
    assert.match(await svc.innerText(), /default\/api-service/);
    // the NodePort connection above went through one of the endpoint chains: its jump counted packets
    const counted = await page.locator('.tree li[data-chain^="KUBE-SEP-"] .counters').allInnerTexts();
    assert.equal(counted.length >= 3, true, `endpoint chains with counters: ${counted.join('; ')}`);
    assert.ok(counted.some((c) => /^[1-9]\d* pkts/.test(c)), counted.join('; '));
    await screenshot(page, 'lab-rules');
    await page.keyboard.press('p');
  });

  it('turns the verdict red, naming the NetworkPolicy, when one denies the path', async () => {
    lab.ok(['apply', '-f', '-'], denyPolicy);
    // the policy arrives through the watch; the page traces the shown path again
    await page.waitForSelector('.verdict[data-verdict="dropped"]', { timeout: 10_000 });
    const layer = page.locator('.layer[data-layer="netpol"]');
    assert.equal(await layer.getAttribute('data-state'), 'fail');
    assert.match(await layer.innerText(), /NetworkPolicy default\/api-deny-all/);
    assert.equal(await layer.evaluate((e) => getComputedStyle(e).color), 'rgb(207, 34, 46)');
    // the kernel's drop: the pod's chain in podpath's policy table, acting for the policy
    const failing = page.locator('.hop.fail');
    assert.equal(await failing.getAttribute('data-kind'), 'netfilter');
    assert.match(await failing.innerText(), /drop[\s\S]*ip podpath-netpol ingress-default\/api-server-[\s\S]*NetworkPolicy default\/api-deny-all/);
    assert.match(await page.locator('aside.evidence').innerText(), /NetworkPolicy default\/api-deny-all/);
    // diagnose's finding, from the lab's live facts, at the failing hop
    const finding = page.locator('aside.evidence .diagnosis');
    await finding.waitFor({ timeout: 30_000 });
    assert.equal(await finding.getAttribute('data-check'), 'network-policy');
    assert.match(await finding.innerText(), /\(live\)[\s\S]*default\/api-deny-all/);
    await screenshot(page, 'lab-netpol-deny');
    // the kernel drops it too
    const r = lab.curl('client', 'http://192.168.49.2:30080/health', ['--max-time', '3']);
    assert.notEqual(r.code, 0, 'the connection should fail under the deny policy');
  });
});
