// kubectl exec, exec -it, attach, run --rm -it, port-forward and cp in a lab, with the real
// kubectl 1.32 (WebSocket v5.channel.k8s.io; port-forward as SPDY tunnelled in WebSocket) and
// Debian's kubectl 1.20 (SPDY/3.1 only): output, exit codes, a terminal (the test's own
// pseudo-terminal, from script(1)), upstream's error texts, and port-forward under load, of 5 MiB bodies and to a
// port nothing listens on.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kubectlBin, repoRoot, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';
import { onPseudoTerminal, Proc } from '../helpers/terminal.ts';

const oldKubectl = process.env.PODPATH_KUBECTL_DEBIAN ?? path.join(repoRoot, '.cache/kubernetes-client/usr/bin/kubectl');
const kubectls = [
  { version: '1.32', bin: kubectlBin, present: true },
  { version: '1.20', bin: oldKubectl, present: fs.existsSync(oldKubectl) },
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** GET url, the body (a fresh connection each time). */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** GET url, the body's bytes (a fresh connection). */
/** A GET's whole body; `stallMs`: the reader stops for that long after each MiB, so everything behind it backs up. */
function getBytes(url: string, stallMs = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 30_000 }, (res) => {
      const parts: Buffer[] = [];
      let sinceStall = 0;
      res.on('data', (d: Buffer) => {
        parts.push(d);
        sinceStall += d.length;
        if (stallMs && sinceStall >= 1 << 20) {
          sinceStall = 0;
          res.pause();
          setTimeout(() => res.resume(), stallMs);
        }
      });
      res.on('end', () => resolve(Buffer.concat(parts)));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** A TCP connection to a forwarded port: what came back before it closed. */
function connectOnce(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = new net.Socket();
    let got = '';
    s.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.0\r\n\r\n'));
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('error', () => resolve(got));
    s.on('close', () => resolve(got));
    s.setTimeout(10_000, () => s.destroy());
  });
}

describe('kubectl exec, attach, run -it, port-forward and cp in a lab', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  let home: string;

  before(async () => {
    lab = await startLab({ files: [path.join(repoRoot, 'test/fixtures/exec-lab.yaml')], args: ['--no-netpol', '--no-dns'] });
    home = tempDir('home-exec');
    // A pod that never runs: its image is not built in and it has no command.
    lab.ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Pod\nmetadata: {name: stuck}\nspec:\n  containers: [{name: c, image: example.com/not-built-in}]\n');
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('gives each container its own filesystem view and hostname: volumes at their mountPaths, ConfigMaps read-only, writes private to the pod', () =>
    explained(lab, async () => {
      const exec = (container: string, script: string) => lab.kubectl(['exec', 'files', '-c', container, '--', 'sh', '-c', script]);
      let r = exec('a', 'hostname; cat /etc/hostname; pwd; cat /etc/app/greeting');
      assert.equal(r.stdout, 'files\nfiles\n/srv/app\nhello from a ConfigMap\n', r.stderr);
      r = exec('a', 'touch /etc/app/x');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Read-only file system/);
      // An emptyDir is one directory for every container that mounts it, wherever each mounts it.
      assert.equal(exec('a', 'echo shared > /data/note').code, 0);
      assert.equal(exec('b', 'cat /shared/note').stdout, 'shared\n');
      // What a container writes outside its volumes stays in its own writable layer.
      const marker = `/podpath-container-write-${process.pid}`;
      assert.equal(exec('a', `echo x > ${marker} && cat ${marker}`).stdout, 'x\n');
      assert.equal(fs.existsSync(marker), false, 'a write in the container reached the host');
      assert.equal(exec('b', `cat ${marker} 2>&1 || echo absent`).stdout.trim().split('\n').pop(), 'absent', 'a write in one container reached another');
      assert.match(exec('a', 'cat /etc/resolv.conf').stdout, /^nameserver 10\.96\.0\.10$/m);
    }));

  for (const k of kubectls) {
    describe(`kubectl ${k.version}`, { skip: !k.present && `no ${k.bin} (scripts/install-deps.sh unpacks it)` }, () => {
      const env = () => ({ ...process.env, HOME: path.join(home, k.version), KUBECONFIG: lab.kubeconfig });
      const kc = (args: string[], input?: string): Run => {
        const r = spawnSync(k.bin, args, { input, env: env(), encoding: 'utf8', timeout: 60_000 });
        return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
      };
      const background = (args: string[]) => new Proc(spawn(k.bin, args, { env: env(), stdio: ['pipe', 'pipe', 'pipe'] }));
      /** kubectl on a pseudo-terminal of its own (30 rows, 100 columns), as a person at a terminal runs it. */
      const onTerminal = (args: string[]) =>
        onPseudoTerminal(k.bin, args, env());

      it('exec prints stdout and stderr and exits with the command’s code', () =>
        explained(lab, async () => {
          let r = kc(['exec', 'web', '--', 'sh', '-c', 'echo out; echo err >&2']);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout, 'out\n');
          assert.equal(r.stderr, 'err\n');
          r = kc(['exec', 'web', '--', 'sh', '-c', 'exit 3']);
          assert.equal(r.code, 3);
          assert.equal(r.stderr, 'command terminated with exit code 3\n');
          // The container's environment and the pod's namespace.
          r = kc(['exec', 'web', '-c', 'main', '--', 'sh', '-c', 'echo $HOSTNAME $KUBERNETES_SERVICE_HOST; ip -4 -o addr show eth0 | wc -l']);
          assert.equal(r.stdout, 'web 10.96.0.1\n1\n', r.stderr);
          r = kc(['exec', '-i', 'web', '--', 'sh', '-c', 'tr a-z A-Z'], 'piped input\n');
          assert.equal(r.stdout, 'PIPED INPUT\n', r.stderr);
        }));

      it('exec -it runs on a terminal of the client’s size', () =>
        explained(lab, async () => {
          const p = onTerminal(['exec', '-it', 'web', '--', 'sh']);
          await p.waitFor(/# $/);
          p.write('tty; stty size; echo $((6*7)); exit 4\n');
          assert.equal(await p.end(), 4);
          assert.match(p.out, /\/dev\/pts\/\d+\r\n30 100\r\n42\r\n/);
          assert.match(p.out, /command terminated with exit code 4/);
        }));

      it('refuses a pod or container that is not there, or not running, with upstream’s texts', () =>
        explained(lab, async () => {
          let r = kc(['exec', 'nope', '--', 'true']);
          assert.equal(r.code, 1);
          assert.equal(r.stderr, 'Error from server (NotFound): pods "nope" not found\n');
          r = kc(['exec', 'web', '-c', 'nope', '--', 'true']);
          assert.equal(r.stderr, 'Error from server (BadRequest): container nope is not valid for pod web\n');
          // Not running: the kubelet's refusal; kubectl 1.32 gets it through the WebSocket error stream.
          r = kc(['exec', 'stuck', '--', 'true']);
          assert.equal(r.code, 1);
          const prefix = k.version === '1.32' ? 'Internal error occurred: ' : '';
          assert.equal(r.stderr, `error: ${prefix}unable to upgrade connection: container not found ("c")\n`);
          r = kc(['exec', 'web', '--', 'no-such-command']);
          assert.equal(r.code, 1);
          assert.match(r.stderr, /exec: "no-such-command": executable file not found in \$PATH/);
        }));

      it('attach -i writes to the container’s stdin and shows what it prints', () =>
        explained(lab, async () => {
          const p = background(['attach', '-i', 'reader']);
          await new Promise((r) => setTimeout(r, 1500));
          p.write(`hello-${k.version}\n`);
          await p.waitFor(new RegExp(`got:hello-${k.version.replace('.', '\\.')}`));
          p.kill();
          await p.end();
        }));

      it('run --rm -it creates the pod, attaches to its terminal and deletes it', () =>
        explained(lab, async () => {
          const name = `run-${k.version.replace('.', '-')}`;
          const p = onTerminal(['run', name, '--image=podpath/echo', '--restart=Never', '--rm', '-it', '--command', '--', 'sh']);
          await p.waitFor(/If you don't see a command prompt, try pressing enter\./, 60_000);
          p.write('echo run-$((40+2))\n');
          await p.waitFor(/run-42/);
          p.write('exit\n');
          assert.equal(await p.end(60_000), 0, p.out);
          assert.match(p.out, new RegExp(`pod "${name}" deleted`));
          assert.match(kc(['get', 'pod', name]).stderr, new RegExp(`pods "${name}" not found`));
        }));

      // kubectl 1.31 and later tunnel port-forward through a WebSocket (SPDY/3.1+portforward.k8s.io) and fall back to SPDY quietly when refused
      const tunnels = k.version !== '1.20';
      it(`port-forward carries 100 sequential and 20 concurrent requests${tunnels ? ', through the WebSocket tunnel, not the SPDY fallback' : ''}`, () =>
        explained(lab, async () => {
          const p = background(['port-forward', 'pod/web', ':8080', ...(tunnels ? ['-v=7'] : [])]);
          try {
            if (tunnels) {
              await p.waitFor(/Switching Protocols/);
              assert.match(p.err, /Before WebSocket Upgrade Connection/);
              assert.doesNotMatch(p.err, /fallback to secondary dialer/);
            }
            const port = Number((await p.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 8080/))[1]);
            for (let i = 0; i < 100; i++) {
              const r = await get(`http://127.0.0.1:${port}/health`);
              assert.equal(r.status, 200);
              assert.match(r.body, /"status":"healthy"/);
            }
            const all = await Promise.all(Array.from({ length: 20 }, () => get(`http://127.0.0.1:${port}/api/v1/hello`)));
            assert.deepEqual(all.map((r) => r.status), Array(20).fill(200));
            assert.ok(all.every((r) => JSON.parse(r.body).pod === 'web'));
          } finally {
            p.kill();
            await p.end();
          }
        }));

      it('port-forward carries 5 MiB bodies byte for byte, four at once and one to a reader that keeps stopping', () =>
        explained(lab, async () => {
          const p = background(['port-forward', 'pod/bulk', ':8090']);
          try {
            const port = Number((await p.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 8090/))[1]);
            const want = Buffer.alloc(5 << 20);
            for (let i = 0; i < want.length; i++) want[i] = (i * 7 + (i >> 16)) & 255;
            // (the stopping reader backs the pod's bytes up through kubectl and the API server's relay, which pauses and resumes its reading)
            const bodies = await Promise.all([...Array.from({ length: 4 }, () => getBytes(`http://127.0.0.1:${port}/`)), getBytes(`http://127.0.0.1:${port}/`, 300)]);
            for (const b of bodies) {
              assert.equal(b.length, want.length);
              assert.ok(b.equals(want), 'the body differs from what the pod sent');
            }
          } finally {
            p.kill();
            await p.end();
          }
        }));

      it('port-forward to a port nothing listens on reports the failure for that connection', () =>
        explained(lab, async () => {
          const p = background(['port-forward', 'pod/web', ':9999', ':8080']);
          try {
            const dead = Number((await p.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 9999/))[1]);
            const live = Number((await p.waitFor(/Forwarding from 127\.0\.0\.1:(\d+) -> 8080/))[1]);
            assert.equal(await connectOnce(dead), '');
            await p.waitFor(/error forwarding port 9999 to pod default\/web, uid [0-9a-f-]+: failed to connect to localhost:9999 inside namespace \\?"[^"\\]+\\?", IPv4: dial tcp4 127\.0\.0\.1:9999: connect: connection refused/);
            if (k.version === '1.20') {
              // The server keeps the session: the next connections are served, or refused again.
              assert.equal((await get(`http://127.0.0.1:${live}/health`)).status, 200);
              assert.equal(await connectOnce(dead), '');
              await p.waitFor(/(an error occurred forwarding [^\n]*\n[^]*){2}/);
              assert.equal(p.code, undefined);
            } else {
              // kubectl 1.23+ closes the whole forward itself after an error (kubernetes PR #103526).
              await p.waitFor(/error: lost connection to pod/);
            }
          } finally {
            p.kill();
            await p.end();
          }
        }));

      it('cp copies a file into the pod and back (tar over exec)', () =>
        explained(lab, async () => {
          const dir = tempDir('cp');
          try {
            const src = path.join(dir, 'src.txt');
            fs.writeFileSync(src, `copied by kubectl ${k.version}\n`);
            // A pod shares the host's filesystem (no mount namespace yet): the copy lands in dir/in-pod.
            fs.mkdirSync(path.join(dir, 'in-pod'));
            let r = kc(['cp', src, `web:${dir}/in-pod/file.txt`]);
            assert.equal(r.code, 0, r.stderr);
            r = kc(['exec', 'web', '--', 'cat', `${dir}/in-pod/file.txt`]);
            assert.equal(r.stdout, `copied by kubectl ${k.version}\n`);
            r = kc(['cp', `web:${dir}/in-pod/file.txt`, path.join(dir, 'back.txt')]);
            assert.equal(r.code, 0, r.stderr);
            assert.equal(fs.readFileSync(path.join(dir, 'back.txt'), 'utf8'), `copied by kubectl ${k.version}\n`);
          } finally {
            fs.rmSync(dir, { recursive: true, force: true });
          }
        }));
    });
  }
});
