// `kubectl logs` against a lab's real node agent, with kubectl 1.32 and Debian's 1.20 and with
// Kubernetes' Python client: both streams in one log, --tail, --timestamps (the kubelet's 9
// fractional digits), --since and --since-time, --limit-bytes cut mid-line, --previous after a
// container restart, -f that follows and ends with the container, and upstream's errors.
// In the same lab, `kubectl debug` with Debian's kubectl 1.20: that client GETs
// pods/ephemeralcontainers as an EphemeralContainers object, appends its container and PUTs the
// object back, as the API servers of its time served it; an interactive debugging shell in the
// pod's network, a second debugging container keeping the first, and upstream's validation error.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readState } from '../../src/lab/lab.ts';
import { eventually, kubectlBin, repoRoot, sleep, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';
import { onPseudoTerminal } from '../helpers/terminal.ts';

const oldKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');
const kubectls = [
  { version: '1.32', bin: kubectlBin, present: true },
  { version: '1.20', bin: oldKubectl, present: fs.existsSync(oldKubectl) },
];
const python = '/usr/bin/python3';
const hasPythonClient = fs.existsSync(python) && spawnSync(python, ['-c', 'import kubernetes'], { encoding: 'utf8' }).status === 0;

const stamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function pod(name: string, script: string, extra = '', mounts = ''): string {
  return `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n${extra}  containers:\n  - name: c\n    image: podpath/echo\n    command: [sh, -c, ${JSON.stringify(script)}]\n${mounts}`;
}

describe('kubectl logs against a node agent', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  let home: string;

  before(async () => {
    lab = await startLab({ args: ['--no-netpol', '--no-dns'] });
    home = tempDir('home-logs');
    const pods = [
      pod('talker', 'echo line-1; echo err-1 >&2; sleep 3; echo line-2; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 1; done'),
      // The first instance fails; the second runs on: --previous has the first one's log.
      // (the marker in an emptyDir: a restarted container starts from a fresh filesystem, its volumes kept)
      pod('crasher', `echo "run $(date +%s%N)"; echo "stderr of the run" >&2; if [ -e /state/crashed ]; then exec sleep 600; fi; touch /state/crashed; exit 1`, '  volumes: [{name: state, emptyDir: {}}]\n', '    volumeMounts: [{name: state, mountPath: /state}]\n'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: pair}\nspec:\n  containers:\n  - {name: one, image: podpath/echo, command: [sleep, "600"]}\n  - {name: two, image: podpath/echo, command: [sleep, "600"]}\n',
    ];
    lab.ok(['apply', '-f', '-'], pods.join('---\n'));
    lab.ok(['wait', '--for=condition=Ready', 'pod/talker', 'pod/pair', '--timeout=60s']);
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  /** The crasher restarted once and its second instance runs. */
  const restarted = () =>
    eventually(
      () => {
        const s = lab.get('/api/v1/namespaces/default/pods/crasher').status.containerStatuses?.[0];
        return s?.restartCount >= 1 && s.state.running ? s : undefined;
      },
      60_000,
      'crasher restarted',
    );

  for (const k of kubectls) {
    describe(`kubectl ${k.version}`, { skip: !k.present && `no ${k.bin} (scripts/install-deps.sh unpacks it)` }, () => {
      const env = () => ({ ...process.env, HOME: path.join(home, k.version), KUBECONFIG: lab.kubeconfig });
      const kc = (args: string[]): Run => {
        const r = spawnSync(k.bin, args, { env: env(), encoding: 'utf8', timeout: 60_000 });
        return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
      };
      const ok = (args: string[]) => {
        const r = kc(args);
        assert.equal(r.code, 0, r.stderr);
        return r.stdout;
      };

      it('prints both streams, the last lines, timestamps, lines since a duration or a time, and at most so many bytes', () =>
        explained(lab, async () => {
          await eventually(() => ok(['logs', 'talker']).includes('tick-3'), 30_000, 'tick-3');
          const all = ok(['logs', 'talker']);
          assert.match(all, /^(line-1\nerr-1\n|err-1\nline-1\n)line-2\ntick-1\ntick-2\ntick-3\n/);
          assert.match(ok(['logs', 'talker', '--tail=1']), /^tick-\d+\n$/);
          assert.equal(ok(['logs', 'talker', '--tail=0']), '');
          const stamped = ok(['logs', 'talker', '--timestamps']).split('\n').slice(0, -1);
          for (const l of stamped) assert.match(l, new RegExp(`${stamp.source}(line-\\d|err-1|tick-\\d+)$`));
          assert.deepEqual(stamped.slice(0, 5).map((l) => l.replace(stamp, '')).sort(), ['err-1', 'line-1', 'line-2', 'tick-1', 'tick-2']);
          // --since: the lines of the last 2 seconds, not those of the start.
          const recent = ok(['logs', 'talker', '--since=2s']);
          assert.match(recent, /^(tick-\d+\n){1,3}$/);
          // --since-time: from tick-2's second on (whole seconds: kubectl sends RFC3339).
          const tick2 = stamped.find((l) => l.endsWith(' tick-2'))!;
          const sinceTime = `${tick2.slice(0, 19)}Z`;
          const since = ok(['logs', 'talker', `--since-time=${sinceTime}`, '--timestamps']).split('\n').slice(0, -1);
          assert.ok(since.length >= 2 && since.every((l) => l.slice(0, 19) >= sinceTime.slice(0, 19)), since.join('\n'));
          assert.ok(since.some((l) => l.endsWith(' tick-2')) && !since.some((l) => /line-/.test(l)), since.join('\n'));
          assert.equal(ok(['logs', 'talker', '--limit-bytes=4']), all.slice(0, 4));
          assert.equal(ok(['logs', 'talker', '--limit-bytes=12', '--timestamps']), stamped[0]!.slice(0, 12));
        }));

      it('-f follows while the container runs and ends with it', () =>
        explained(lab, async () => {
          const name = `finisher-${k.version.replace('.', '-')}`;
          lab.ok(['apply', '-f', '-'], pod(name, 'echo a; sleep 4; echo b', '  restartPolicy: Never\n'));
          ok(['wait', '--for=condition=Ready', `pod/${name}`, '--timeout=60s']);
          const r = await new Promise<Run>((resolve) => {
            const p = spawn(k.bin, ['logs', '-f', name], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
            let stdout = '';
            let stderr = '';
            p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
            p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
            const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
            p.on('close', (code) => (clearTimeout(t), resolve({ code: code ?? -1, stdout, stderr })));
          });
          assert.deepEqual(r, { code: 0, stdout: 'a\nb\n', stderr: '' });
          // A running container: what comes after the last lines, as it comes.
          const p = spawn(k.bin, ['logs', '-f', '--tail=1', 'talker'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          p.stdout.on('data', (d: Buffer) => (out += d.toString()));
          try {
            await eventually(() => out.split('\n').length >= 4, 15_000, `three lines followed: ${JSON.stringify(out)}`);
            const ticks = out.split('\n').slice(0, 3).map((l) => Number(/^tick-(\d+)$/.exec(l)?.[1]));
            assert.deepEqual(ticks, [ticks[0], ticks[0]! + 1, ticks[0]! + 2], out);
          } finally {
            p.kill();
          }
        }));

      it('--previous has the log of the instance before a restart; upstream\'s errors', () =>
        explained(lab, async () => {
          await restarted();
          const previous = ok(['logs', 'crasher', '--previous']);
          const current = ok(['logs', 'crasher']);
          assert.match(previous, /^(run \d+\nstderr of the run\n|stderr of the run\nrun \d+\n)$/);
          assert.match(current, /^(run \d+\nstderr of the run\n|stderr of the run\nrun \d+\n)$/);
          assert.notEqual(/run \d+/.exec(previous)![0], /run \d+/.exec(current)![0]);
          let r = kc(['logs', 'talker', '--previous']);
          assert.equal(r.code, 1);
          assert.equal(r.stderr, 'Error from server (BadRequest): previous terminated container "c" in pod "talker" not found\n');
          // kubectl knows the pod's containers and says so itself; the API server says the same.
          r = kc(['logs', 'talker', '-c', 'nope']);
          assert.equal(r.stderr, 'error: container nope is not valid for pod talker\n');
          r = kc(['get', '--raw', '/api/v1/namespaces/default/pods/talker/log?container=nope']);
          assert.match(r.stderr, /container nope is not valid for pod talker/);
          // (kubectl 1.32 words it as `error: error from server (NotFound): … in namespace "default"`)
          r = kc(['logs', 'nope']);
          assert.match(r.stderr, /^(error: )?[Ee]rror from server \(NotFound\): pods "nope" not found/);
          r = kc(['get', '--raw', '/api/v1/namespaces/default/pods/talker/log?sinceSeconds=5&sinceTime=2025-01-01T00:00:00Z']);
          assert.match(r.stderr, /PodLogOptions "talker" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified/);
          r = kc(['get', '--raw', '/api/v1/namespaces/default/pods/pair/log']);
          assert.match(r.stderr, /a container name must be specified for pod pair, choose one of: \[one two\]/);
        }));
    });
  }

  it('Kubernetes\' Python client: follow=True streamed, since_seconds, timestamps, previous, errors', { skip: !hasPythonClient && 'no python3-kubernetes' }, () =>
    explained(lab, async () => {
      await restarted();
      const script = `
import sys, re, kubernetes
from kubernetes.client.rest import ApiException
kubernetes.config.load_kube_config(config_file=sys.argv[1])
v1 = kubernetes.client.CoreV1Api()
r = v1.read_namespaced_pod_log('talker', 'default', follow=True, tail_lines=1, _preload_content=False)
got = []
for line in r:
    got.append(line.decode().rstrip('\\n'))
    if len(got) == 3:
        break
r.release_conn()
print('follow', ' '.join(got))
print('since', repr(v1.read_namespaced_pod_log('talker', 'default', since_seconds=2)))
print('stamped', repr(v1.read_namespaced_pod_log('talker', 'default', timestamps=True, limit_bytes=200)))
print('previous', repr(v1.read_namespaced_pod_log('crasher', 'default', previous=True)))
for kw in ({'name': 'pair'}, {'name': 'talker', 'tail_lines': -1}):
    try:
        v1.read_namespaced_pod_log(namespace='default', **kw)
    except ApiException as e:
        print('error', e.status, e.body)
`;
      const r = spawnSync(python, ['-c', script, lab.kubeconfig], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.split('\n');
      const ticks = lines.find((l) => l.startsWith('follow '))!.slice('follow '.length).split(' ').map((t) => Number(/^tick-(\d+)$/.exec(t)?.[1]));
      assert.deepEqual(ticks, [ticks[0], ticks[0]! + 1, ticks[0]! + 2], r.stdout);
      assert.match(lines.find((l) => l.startsWith('since '))!, /^since '(tick-\d+\\n){1,3}'$/);
      const stamped = lines.find((l) => l.startsWith('stamped '))!;
      assert.match(stamped, /^stamped '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (line-1|err-1)\\n/);
      assert.match(lines.find((l) => l.startsWith('previous '))!, /^previous '(run \d+\\nstderr of the run\\n|stderr of the run\\nrun \d+\\n)'$/);
      const errors = lines.filter((l) => l.startsWith('error '));
      assert.equal(errors.length, 2, r.stdout);
      assert.match(errors[0]!, /^error 400 .*"message":"a container name must be specified for pod pair, choose one of: \[one two\]","reason":"BadRequest"/);
      assert.match(errors[1]!, /^error 422 .*"message":"PodLogOptions \\"talker\\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0","reason":"Invalid"/);
    }));

  // In the same lab (both built the same bare one-node lab):
  describe('kubectl debug (1.20) in a lab', { skip: !fs.existsSync(oldKubectl) && `no ${oldKubectl} (scripts/install-deps.sh unpacks it)` }, () => {
    before(() => {
      lab.ok(['run', 'web', '--image=busybox', '--', 'sleep', '100000']);
    });

    // the suite's home of kubectl 1.20
    const env = () => ({ ...process.env, HOME: path.join(home, '1.20'), KUBECONFIG: lab.kubeconfig });
    const kc = (args: string[]) => spawnSync(oldKubectl, args, { env: env(), encoding: 'utf8', timeout: 60_000 });
    const podJSON = () => lab.get('/api/v1/namespaces/default/pods/web') as { status: { phase: string; podIP: string; ephemeralContainerStatuses?: { name: string; state: { terminated?: object } }[] }; spec: { ephemeralContainers?: { name: string }[] } };

    it('debug -it gives a shell in the pod’s network; a second debug keeps the first; the object read is EphemeralContainers', () =>
      explained(lab, async () => {
        const ip = (await eventually(() => (podJSON().status.phase === 'Running' ? podJSON().status.podIP : undefined), 60_000, 'web running'))!;
        const p = onPseudoTerminal(oldKubectl, ['debug', '-it', 'web', '--image=busybox', '-c', 'old'], env());
        try {
          await p.waitFor(/If you don't see a command prompt/, 60_000);
          p.write('ip -4 addr show eth0; exit\r');
          await p.waitFor(new RegExp(`inet ${ip.replace(/\./g, '\\.')}/`));
          assert.equal(await p.end(), 0, p.out);
        } finally {
          p.kill();
        }
        // kubectl 1.20 reads the object and writes it back with its resourceVersion, and does not
        // retry a conflict: the agent's status write for the first container's exit comes first
        await eventually(() => podJSON().status.ephemeralContainerStatuses?.find((c) => c.name === 'old')?.state.terminated !== undefined, 30_000, "the first debugging container's exit in the pod's status");
        const r = kc(['debug', 'web', '--image=busybox', '-c', 'old2', '--', 'true']);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(podJSON().spec.ephemeralContainers?.map((c) => c.name), ['old', 'old2']);
        const ec = JSON.parse(kc(['get', '--raw', '/api/v1/namespaces/default/pods/web/ephemeralcontainers']).stdout) as { kind: string; apiVersion: string; metadata: { name: string }; ephemeralContainers: { name: string }[] };
        assert.deepEqual([ec.kind, ec.apiVersion, ec.metadata.name], ['EphemeralContainers', 'v1', 'web']);
        assert.deepEqual(ec.ephemeralContainers.map((c) => c.name), ['old', 'old2']);
        const dup = kc(['debug', 'web', '--image=busybox', '-c', 'old', '--', 'true']);
        assert.notEqual(dup.status, 0);
        assert.match(dup.stderr, /spec\.ephemeralContainers\[\d+\]\.name: Duplicate value: "old"/);
      }));
  });

  // Last: it restarts the node agent.
  it('keeps what a container writes while the node agent is away: its output waits in the pipe for the next agent', () =>
    explained(lab, async () => {
      const ticks = () => [...lab.ok(['logs', 'talker']).matchAll(/^tick-(\d+)$/gm)].map((m) => Number(m[1]));
      const component = `agent-${lab.name}`;
      const before = ticks();
      process.kill(readState(lab.name)!.pids[component]!, 'SIGKILL');
      await sleep(3000);
      const r = lab.podpath(['restart', component]);
      assert.equal(r.code, 0, r.stderr);
      const after = (await eventually(() => {
        const t = ticks();
        return t.length >= before.length + 4 ? t : undefined;
      }, 30_000, 'ticks after the restart'))!;
      assert.deepEqual(after, after.map((_, i) => i + 1), 'no tick lost, none twice');
      assert.equal(lab.get('/api/v1/namespaces/default/pods/talker').status.containerStatuses[0].restartCount, 0);
    }));
});
