// kubectl top and kubectl debug in a lab, with the real kubectl 1.32 and Debian's 1.20: the
// Metrics API's rows for running pods and the node (and `kubectl get podmetrics`), a busy loop's CPU as the test measures it
// itself from /proc over the same window (within 20%), and debugging containers added to a
// running pod — a terminal in the pod's network with the target's processes in view, the
// netshoot image's tools, upstream's validation errors — a node debugging pod with the node's
// root at /host, and a copy of a pod with a debugging container.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, kubectlBin, repoRoot, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';
import { onPseudoTerminal } from '../helpers/terminal.ts';

const oldKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');
const kubectls = [
  { version: '1.32', bin: kubectlBin, present: true },
  { version: '1.20', bin: oldKubectl, present: fs.existsSync(oldKubectl) },
];

/** A table kubectl printed, as rows of its columns by header name. */
function table(out: string): Record<string, string>[] {
  const [head, ...lines] = out.trim().split('\n');
  const names = head!.trim().split(/\s{2,}/);
  return lines.map((l) => Object.fromEntries(l.trim().split(/\s{2,}/).map((v, i) => [names[i]!, v])));
}

/** `fn`'s first value that is not undefined (or false), looked for every half second up to `ms`. */
async function poll<T>(fn: () => T | undefined | false, ms: number, what: string): Promise<NonNullable<T>> {
  return (await eventually(async () => {
    const v = fn();
    if (!v) await new Promise((r) => setTimeout(r, 500));
    return v;
  }, ms, what)) as NonNullable<T>;
}

/** A CPU Quantity (908m, 998123456n, 1) in nanocores. */
function cpuNanocores(q: string): number {
  const m = /^(\d+)([num]?)$/.exec(q);
  if (!m) return NaN;
  return Number(m[1]) * { n: 1, u: 1e3, m: 1e6, '': 1e9 }[m[2] as 'n' | 'u' | 'm' | '']!;
}

const clkTck = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** A process's CPU time so far (utime + stime), in seconds. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / clkTck;
  } catch {
    return undefined;
  }
}

describe('kubectl top and kubectl debug in a lab', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  let home: string;

  before(async () => {
    lab = await startLab({ files: [path.join(repoRoot, 'test/fixtures/topdebug-lab.yaml')], args: ['--no-netpol', '--no-dns'] });
    home = tempDir('home-topdebug');
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  const podJSON = (name: string) => lab.get(`/api/v1/namespaces/default/pods/${name}`) as { status: { podIP: string; containerStatuses: { containerID?: string }[]; ephemeralContainerStatuses?: { name: string; state: { running?: unknown; terminated?: { exitCode: number } } }[] }; spec: Record<string, unknown> };

  it('a busy loop’s CPU in the Metrics API is what it used over the window, measured here from /proc (within 20%)', (t) =>
    explained(lab, async () => {
      const pid = await poll(() => Number(/-(\d+)$/.exec(podJSON('busy').status.containerStatuses[0]?.containerID ?? '')?.[1]) || undefined, 60_000, 'the busy loop running');
      // This test's own record of the loop's CPU time, four times a second.
      const samples: [number, number][] = [];
      const timer = setInterval(() => {
        const s = cpuSeconds(pid);
        if (s !== undefined) samples.push([Date.now(), s]);
      }, 250);
      const at = (t: number) => samples.reduce((best, s) => (Math.abs(s[0] - t) < Math.abs(best[0] - t) ? s : best))[1];
      try {
        // A rate for a window this test watched from its start: two measurements after the sampling began.
        const started = Date.now();
        const m = await poll(
          () => {
            let pm: { timestamp: string; window: string; containers: { name: string; usage: { cpu: string } }[] };
            try {
              pm = lab.get('/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy');
            } catch {
              return undefined;
            }
            const end = Date.parse(pm.timestamp);
            const window = parseFloat(pm.window) * 1000;
            return end - window > started + 500 && Date.now() > end + 1500 ? { end, window, cpu: pm.containers[0]!.usage.cpu, name: pm.containers[0]!.name } : undefined;
          },
          75_000,
          'PodMetrics of busy over a window this test sampled',
        );
        assert.equal(m.name, 'loop');
        const nanocores = cpuNanocores(m.cpu);
        // The timestamp is whole seconds: the measurement was within the second after it.
        const mid = m.end + 500;
        const measured = (at(mid) - at(mid - m.window)) / (m.window / 1000);
        const reported = nanocores / 1e9;
        t.diagnostic(`Metrics API ${Math.round(reported * 1000)}m, measured here ${Math.round(measured * 1000)}m (a core the loop shares with the machine's other work)`);
        assert.ok(measured > 0.05, `the loop ran (${measured} cores)`);
        assert.ok(Math.abs(reported - measured) <= 0.2 * measured, `Metrics API ${reported.toFixed(3)} cores, this test measured ${measured.toFixed(3)} cores over the same ${m.window} ms`);
      } finally {
        clearInterval(timer);
      }
    }));

  for (const k of kubectls) {
    describe(`kubectl ${k.version}`, { skip: !k.present && `no ${k.bin} (scripts/install-deps.sh unpacks it)` }, () => {
      const env = () => ({ ...process.env, HOME: path.join(home, k.version), KUBECONFIG: lab.kubeconfig });
      const kc = (args: string[]) => {
        const r = spawnSync(k.bin, args, { env: env(), encoding: 'utf8', timeout: 60_000 });
        return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
      };

      it('top pods, top pods --containers, top pods -A and top nodes print a row for each running pod and the node', () =>
        explained(lab, async () => {
          const rows = await poll(() => {
            const r = kc(['top', 'pods']);
            const t = r.code === 0 ? table(r.stdout) : [];
            return t.length === 2 ? t : undefined;
          }, 60_000, 'kubectl top pods listing busy and web');
          assert.deepEqual(rows.map((r) => r.NAME), ['busy', 'web']);
          for (const r of rows) {
            assert.match(r['CPU(cores)']!, /^\d+m$/);
            assert.match(r['MEMORY(bytes)']!, /^\d+Mi$/);
          }
          assert.ok(parseInt(rows[0]!['CPU(cores)']!) > parseInt(rows[1]!['CPU(cores)']!), 'the busy loop uses more CPU than sleep');

          const containers = table(kc(['top', 'pods', '--containers']).stdout);
          assert.deepEqual(containers.map((r) => [r.POD, r.NAME]), [['busy', 'loop'], ['web', 'app']]);

          const all = table(kc(['top', 'pods', '-A']).stdout);
          assert.ok(all.some((r) => r.NAMESPACE === 'default' && r.NAME === 'busy'));
          assert.ok(all.some((r) => r.NAMESPACE === 'kube-system' && r.NAME!.startsWith('kube-proxy-')), 'kube-system pods too');

          const one = kc(['top', 'pod', 'busy', '--no-headers']);
          assert.match(one.stdout, /^busy\s+\d+m\s+\d+Mi\s*$/);

          const nodes = table(kc(['top', 'nodes']).stdout);
          assert.equal(nodes.length, 1);
          assert.match(nodes[0]!['CPU(cores)']!, /^\d+m$/);
          assert.match(nodes[0]!['CPU(%)'] ?? nodes[0]!['CPU%']!, /^\d+%$/);
          assert.match(nodes[0]!['MEMORY(bytes)']!, /^\d+Mi$/);
          assert.ok(parseInt(nodes[0]!['CPU(cores)']!) >= parseInt(rows[0]!['CPU(cores)']!) * 0.5, 'the node’s CPU holds its busy pod’s');

          const missing = kc(['top', 'pod', 'nosuch']);
          assert.notEqual(missing.code, 0);
          assert.match(missing.stderr, /pods "nosuch" not found/);

          // metrics-server's own Table
          const pm = table(kc(['get', 'podmetrics']).stdout);
          assert.deepEqual(pm.map((r) => r.NAME), ['busy', 'web']);
          // a Quantity as Go prints it: nanocores, or a coarser suffix when it is exact there (908000000n is 908m)
          assert.match(pm[0]!.CPU!, /^\d+[num]?$/);
          assert.match(pm[0]!.MEMORY!, /^\d+(Ki|Mi)$/);
          // the real interval between the two measurements, about the 15 s resolution (Go's Duration: 15.012s)
          assert.match(pm[0]!.WINDOW!, /^1[4-9](\.\d{1,3})?s$/);
        }));
    });
  }

  describe('kubectl debug (1.32)', () => {
    const env = () => ({ ...process.env, HOME: path.join(home, 'debug'), KUBECONFIG: lab.kubeconfig });

    it('debug -it --target gives a shell in the pod’s network that sees the target’s processes', () =>
      explained(lab, async () => {
        const ip = podJSON('web').status.podIP;
        const p = onPseudoTerminal(kubectlBin, ['debug', '-it', 'web', '--image=busybox', '--target=app', '-c', 'shell'], env());
        try {
          await p.waitFor(/If you don't see a command prompt/, 60_000);
          p.write('ip -4 addr show eth0; ps -o args | grep -c "sleep 100000$"; exit\r');
          await p.waitFor(new RegExp(`inet ${ip.replace(/\./g, '\\.')}/`));
          assert.equal(await p.end(), 0, p.out);
          assert.match(p.out, /^[1-9]\d*\r?$/m, 'the target container’s process in ps');
        } finally {
          p.kill();
        }
        const st = await poll(() => podJSON('web').status.ephemeralContainerStatuses?.find((s) => s.name === 'shell' && s.state.terminated), 20_000, 'the ephemeral container ended');
        assert.equal(st.state.terminated!.exitCode, 0);
      }));

    it('debug with the netshoot image has tcpdump, curl and dig in the pod’s network', () =>
      explained(lab, async () => {
        const ip = podJSON('web').status.podIP;
        lab.ok(['debug', 'web', '--image=nicolaka/netshoot', '-c', 'tools', '--', 'sh', '-c', 'for t in tcpdump curl dig; do command -v $t; done; ip -4 -o addr show eth0']);
        await poll(() => podJSON('web').status.ephemeralContainerStatuses?.find((s) => s.name === 'tools' && s.state.terminated), 30_000, 'the tools container ended');
        const out = lab.ok(['logs', 'web', '-c', 'tools']);
        assert.match(out, /\/tcpdump\n.*\/curl\n.*\/dig\n/);
        assert.match(out, new RegExp(`eth0\\s+inet ${ip.replace(/\./g, '\\.')}/`));
      }));

    it('refuses what an ephemeral container may not have, in upstream’s words', () =>
      explained(lab, async () => {
        let r = lab.kubectl(['debug', 'web', '--image=busybox', '-c', 'x', '--target=nosuch', '--', 'true']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /The Pod "web" is invalid: spec\.ephemeralContainers\[\d+\]\.targetContainerName: Not found: "nosuch"/);
        r = lab.kubectl(['debug', 'web', '--image=busybox', '-c', 'app', '--', 'true']);
        assert.match(r.stderr, /spec\.ephemeralContainers\[\d+\]\.name: Duplicate value: "app"/);
        r = lab.kubectl(['patch', 'pod', 'web', '--subresource=ephemeralcontainers', '-p', '{"spec":{"ephemeralContainers":[{"name":"p","image":"busybox","ports":[{"containerPort":80}]}]}}']);
        assert.match(r.stderr, /spec\.ephemeralContainers\[\d+\]\.ports: Forbidden: cannot be set for an Ephemeral Container/);
        assert.equal(lab.kubectl(['create', '-f', '-'], 'apiVersion: v1\nkind: Pod\nmetadata: {name: pre}\nspec:\n  containers: [{name: c, image: busybox}]\n  ephemeralContainers: [{name: d, image: busybox}]\n').code, 1);
      }));

    it('debug node/N runs a host-network pod on the node with its root at /host; --copy-to runs a copy with the debugging container', () =>
      explained(lab, async () => {
        const node = lab.ok(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}']);
        const r = lab.kubectl(['debug', `node/${node}`, '--image=busybox', '--', 'sh', '-c', 'test -d /host/proc/1 && test -f /host/etc/os-release && echo host-root']);
        assert.equal(r.code, 0, r.stderr);
        const name = /Creating debugging pod (\S+)/.exec(r.stdout + r.stderr)![1]!;
        await poll(() => lab.kubectl(['get', 'pod', name, '-o', 'jsonpath={.status.phase}']).stdout === 'Succeeded' || undefined, 30_000, 'the node debugging pod done');
        assert.equal(lab.ok(['logs', name]), 'host-root\n');
        const spec = lab.get(`/api/v1/namespaces/default/pods/${name}`).spec as { hostNetwork?: boolean; nodeName?: string };
        assert.equal(spec.hostNetwork, true);
        assert.equal(spec.nodeName, node);

        lab.ok(['debug', 'web', '--copy-to=web-copy', '--image=busybox', '-c', 'dbg', '--', 'sleep', '1000']);
        await poll(() => lab.kubectl(['get', 'pod', 'web-copy', '-o', 'jsonpath={.status.containerStatuses[*].ready}']).stdout === 'true true' || undefined, 30_000, 'web-copy ready');
        assert.equal(lab.ok(['get', 'pod', 'web-copy', '-o', 'jsonpath={.spec.containers[*].name}']), 'app dbg');
      }));
  });
});
