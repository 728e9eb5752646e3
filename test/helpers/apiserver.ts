// Test helpers: a real `podpath apiserver` child process, the real kubectl with its own HOME,
// and raw HTTPS requests with the server's CA and token.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { scratchDir } from './tmp.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const podpathBin = path.join(repoRoot, 'bin/podpath.js');
export const kubectlBin = process.env.PODPATH_KUBECTL ?? '/usr/bin/kubectl';

/** A scratch directory of the test, removed when its process exits. */
export function tempDir(prefix: string): string {
  return scratchDir(`pptest-${prefix}-`);
}

export interface TestApiServer {
  url: string;
  port: number;
  dataDir: string;
  kubeconfig: string;
  token: string;
  caCert: string;
  child: ChildProcess;
  /** SIGKILLs the server process (no clean shutdown) */
  kill9(): Promise<void>;
  /** stops it gracefully */
  stop(): Promise<void>;
  /** starts a new process on the same data dir and port (with other flags, when given) */
  restart(extraArgs?: string[]): Promise<void>;
  /** stops it and removes its files */
  dispose(): Promise<void>;
}

function waitExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

async function launch(dataDir: string, listen: string, kubeconfig: string, extra: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [podpathBin, 'apiserver', '--data-dir', dataDir, '--listen', listen, '--kubeconfig', kubeconfig, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`apiserver did not start in time:\n${out}\n${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (https:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`apiserver exited with ${code}:\n${out}\n${err}`));
    });
  });
  return { child, url };
}

export async function startApiServer(opts: { extraArgs?: string[]; dataDir?: string } = {}): Promise<TestApiServer> {
  const dataDir = opts.dataDir ?? tempDir('apiserver');
  const kubeconfig = path.join(dataDir, 'kubeconfig');
  const extra = opts.extraArgs ?? [];
  let { child, url } = await launch(dataDir, '127.0.0.1:0', kubeconfig, extra);
  const port = Number(new URL(url).port);
  const kc = YAML.parse(fs.readFileSync(kubeconfig, 'utf8'));
  const token: string = kc.users[0].user.token;
  const caCert = Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64').toString();
  const server: TestApiServer = {
    url,
    port,
    dataDir,
    kubeconfig,
    token,
    caCert,
    get child() {
      return child;
    },
    async kill9() {
      child.kill('SIGKILL');
      await waitExit(child);
    },
    async stop() {
      child.kill('SIGTERM');
      await waitExit(child);
    },
    async restart(extraArgs?: string[]) {
      ({ child } = await launch(dataDir, `127.0.0.1:${port}`, kubeconfig, extraArgs ?? extra));
    },
    async dispose() {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  } as TestApiServer;
  return server;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real kubectl with a private HOME (kubectl caches discovery per HOME). */
/** kubectl (`bin`: another version's) against `kubeconfig`, with a HOME of its own for its caches. */
export function makeKubectl(kubeconfig: string, bin = kubectlBin, home = tempDir('home')): (args: string[], input?: string) => KubectlResult {
  return (args, input) => {
    const r = spawnSync(bin, args, {
      input,
      env: { ...process.env, HOME: home, KUBECONFIG: kubeconfig },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** the body's bytes, for binary media types (protobuf) */
  raw: Buffer;
  json: () => any;
}

/** One HTTPS request to the test server (token unless `auth: false`). */
export function request(s: TestApiServer, method: string, p: string, body?: string | Buffer, opts: { contentType?: string; accept?: string; auth?: boolean } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (opts.auth !== false) headers.Authorization = `Bearer ${s.token}`;
    if (body !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      // Without a length, node sends a DELETE's body unframed (no chunking for DELETE), and the
      // server rightly reads it as the start of the next request.
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    if (opts.accept) headers.Accept = opts.accept;
    const req = https.request({ host: '127.0.0.1', port: s.port, method, path: p, headers, ca: s.caCert, servername: 'localhost', timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const text = raw.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, raw, json: () => JSON.parse(text) });
      });
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** `podpath controller-manager` against a test server, as its own process, each controller as its own service account (as kubeadm runs it); stop() waits for it to exit. */
export function startControllerManager(s: TestApiServer): { stop: () => Promise<void> } {
  const cm = spawn(process.execPath, [podpathBin, 'controller-manager', '--kubeconfig', s.kubeconfig, '--use-service-account-credentials'], { stdio: 'ignore' });
  return {
    stop: async () => {
      if (cm.exitCode !== null || cm.signalCode !== null) return;
      const exited = new Promise((r) => cm.once('exit', r));
      cm.kill('SIGTERM');
      await exited;
    },
  };
}

/** The highest resident memory a process has had (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value, at most `timeoutMs`. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let tries = 0; ; tries++) {
    const started = Date.now();
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    // Backing off, and never resting less than the check took: most checks spawn kubectl or
    // podpath, and polling them back to back kept a core busy while the lab it waited on starved.
    await sleep(Math.min(1000, Math.max(50 * 2 ** Math.min(tries, 2), Date.now() - started)));
  }
}
