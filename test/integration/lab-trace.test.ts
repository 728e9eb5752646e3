// `podpath trace` in a real lab with seed 001, in iptables mode (two nodes) and nftables mode: the path
// computed from the node's own rules (read from its kernel) is the one a real probe takes, as
// nft monitor trace and conntrack -E report it; the observed endpoint is the pod that answered;
// nothing of the observation is left behind, also after Ctrl-C; the same objects and a captured
// iptables-save or nft -j ruleset give the same path through --kubeconfig --node-rules; and a
// Service without endpoints is rejected where the computed path says, as the kernel reports.
// (Seed 000's Ingress request is traced in lab-ingress's lab, the userspace proxy's connection in
// lab-userspace's; test/helpers/trace.ts holds what they share.)
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readState } from '../../src/lab/lab.ts';
import { eventually, podpathBin, repoRoot, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';
import { assertNothingLeft, observedNodePort, traceJson, url, type JsonTrace } from '../helpers/trace.ts';

const seed = path.join(repoRoot, 'examples/seed-001');


for (const mode of ['iptables', 'nftables'] as const) {
  describe(`podpath trace in a lab, ${mode} mode`, { skip: !isRoot && 'labs need root' }, () => {
    let lab: TestLab;

    before(async () => {
      // two nodes in iptables mode: one pod on each, so a NodePort connection may stay on the node or cross to the other
      lab = await startLab({ files: [seed], proxyMode: mode, nodes: mode === 'iptables' ? 2 : 1, args: ['--no-netpol', '--no-dns'] });
    });
    after(async () => {
      if (lab) {
        const r = await lab.down();
        assert.equal(r.code, 0, r.stderr);
      }
    });

    it("computes the NodePort path from the node's own rules and observes the same path to the pod that answered", () =>
      explained(lab, async () => {
        // until the kernel has chosen each pod once (on two nodes: the local one and the one across the underlay), at most 12 probes
        const answered = new Set<string>();
        const pods = JSON.parse(lab.ok(['get', 'pods', '-l', 'app=api', '-o', 'json'])) as { items: { metadata: { name: string }; spec: { nodeName: string } }[] };
        const nodes = new Set(pods.items.map((p) => p.spec.nodeName));
        assert.equal(nodes.size, mode === 'iptables' ? 2 : 1);
        // Pods Running is not kube-proxy synced: observe once the node's kernel holds every endpoint
        // (a sync between reading the rules and the probe would be a difference the test did not make).
        const everyPod = new Set(pods.items.map((p) => `default/${p.metadata.name}`));
        await eventually(() => {
          const c = traceJson(lab, ['--from', 'client', '--to', url]).t.candidates.map((x) => x.pod);
          return c.length === everyPod.size && c.every((p) => everyPod.has(p));
        }, 30_000, "kube-proxy's rules in the kernel to hold every endpoint");
        for (let i = 0; i < 12 && answered.size < pods.items.length; i++) answered.add(await observedNodePort(lab, mode));
        assert.equal(answered.size, pods.items.length);
      }));

    it('leaves no trace table and no monitor behind when interrupted (SIGINT)', () =>
      explained(lab, async () => {
        const node = readState(lab.name)!.nodes[0]!.netns;
        const child = spawn(process.execPath, [podpathBin, 'trace', '--name', lab.name, '--from', 'client', '--to', url, '--observe'], { stdio: ['ignore', 'pipe', 'pipe'] });
        const exited = new Promise<number | null>((resolve) => child.once('exit', (c, sig) => resolve(c ?? (sig ? -1 : null))));
        let interrupted = false;
        // interrupt once the node's trace table is in place: the observation is under way
        for (let i = 0; i < 3000 && child.exitCode === null; i++) {
          const tables = spawnSync('nsenter', [`--net=/run/netns/${node}`, 'nft', 'list', 'tables'], { encoding: 'utf8' }).stdout;
          if (/podpath-trace/.test(tables)) {
            child.kill('SIGINT');
            interrupted = true;
            break;
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        const code = await exited;
        assert.ok(interrupted, 'the trace ended before its table was seen');
        assert.equal(code, 130);
        assertNothingLeft(lab);
      }));

    it('traces the same path from the API and a captured ruleset (--kubeconfig, --node-rules)', () =>
      explained(lab, async () => {
        const st = readState(lab.name)!;
        const dir = tempDir('trace');
        // every node's: the path computed may cross to the other
        const capture = (file: string, argv: string[]) =>
          st.nodes.flatMap((n) => {
            fs.writeFileSync(path.join(dir, `${n.name}-${file}`), spawnSync('nsenter', [`--net=/run/netns/${n.netns}`, ...argv], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout);
            return ['--node-rules', `${n.name}=${path.join(dir, `${n.name}-${file}`)}`];
          });
        // iptables-save for iptables mode; the nft JSON and its text listing for nftables mode
        const files = mode === 'iptables' ? capture('rules', ['iptables-save']) : [...capture('rules.json', ['nft', '-j', 'list', 'ruleset']), ...capture('rules.txt', ['nft', '-a', 'list', 'ruleset'])];
        const live = traceJson(lab, ['--from', 'client', '--to', url]);
        assert.equal(live.code, 0, live.stderr);
        const r = spawnSync(process.execPath, [podpathBin, 'trace', '--kubeconfig', lab.kubeconfig, ...files, '--from', 'client', '--to', url, '-o', 'json'], { encoding: 'utf8', timeout: 60_000 });
        assert.equal(r.status, 0, r.stderr);
        const captured = JSON.parse(r.stdout) as JsonTrace;
        assert.equal(captured.mode, mode);
        const rules = (t: JsonTrace) => t.hops.filter((h) => h.kind === 'netfilter').map((h) => `${h.rule!.table} ${h.rule!.chain}: ${h.rule!.text}`);
        // kube-proxy's rules are the same either way (an nft capture also walks iptables-nft's tables as nft rules: flannel's masquerade)
        const kubeProxy = (l: string[]) => l.filter((x) => (mode === 'iptables' ? true : x.startsWith('ip kube-proxy ')));
        assert.deepEqual(kubeProxy(rules(captured)), kubeProxy(rules(live.t)));
        assert.ok(kubeProxy(rules(live.t)).length >= 6);
        assert.deepEqual(captured.endpoint, live.t.endpoint);
      }));

    it('computes and observes the REJECT of a NodePort whose Service has no endpoints (last: it scales the app to zero)', () =>
      explained(lab, async () => {
        lab.ok(['scale', 'deployment/api-server', '--replicas=0']);
        // the rules say "no endpoints" once the pods are gone from the EndpointSlice and kube-proxy has synced: the computed trace says so then
        let r!: ReturnType<typeof traceJson>;
        await eventually(async () => {
          r = traceJson(lab, ['--from', 'client', '--to', url, '--observe']);
          assert.equal(r.t.verdict, 'rejected', JSON.stringify(r.t.hops.at(-1)));
          return true;
        }, 60_000);
        assert.equal(r.code, 3);
        const o = r.t.observed!;
        assert.equal(o.verdict, 'rejected');
        assert.equal(o.probe.ok, false);
        assert.deepEqual(o.differences, []);
        const last = r.t.hops.at(-1)!;
        assert.match(last.rule!.text, mode === 'iptables' ? /-j REJECT/ : /reject/);
        assert.equal(last.observed, true);
        assert.equal(r.t.endpoint, null);
        assertNothingLeft(lab);
      }));
  });
}

describe('podpath trace flags', () => {
  it('refuses --observe without a lab, and --node-rules that are not NODE=FILE, naming what is wrong', () => {
    const f = path.join(repoRoot, 'examples/trace/seed-001.yaml');
    const a = spawnSync(process.execPath, [podpathBin, 'trace', '-f', f, '--from', 'client', '--to', url, '--observe'], { encoding: 'utf8' });
    assert.equal(a.status, 1);
    assert.match(a.stderr, /--observe sends a probe in a lab/);
    const b = spawnSync(process.execPath, [podpathBin, 'trace', '-f', f, '--node-rules', 'rules.txt', '--from', 'client', '--to', url], { encoding: 'utf8' });
    assert.equal(b.status, 1);
    assert.match(b.stderr, /--node-rules rules\.txt: expected NODE=FILE/);
  });
});
