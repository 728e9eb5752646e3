// The controller's data plane: a real nginx master it starts and reloads, and the status server
// its Lua code answers on. A configuration is checked with `nginx -t` before it replaces the
// running one; endpoints go to the Lua balancer over HTTP, with no reload. A reload first tells
// the running workers to drain (their responses say `Connection: close`) and waits drainMs, so
// that clients are off the old workers' kept-alive connections when nginx closes those. FakeNginx
// (./fake.ts) stands in for it in unit tests.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startChild, type Child } from '../../exec/child.ts';
import { defaultExecutor, type Executor } from '../../exec/exec.ts';
import type { Rendered } from './template.ts';

export interface DataPlane {
  /** `nginx -t` of this configuration (the files it names written first): undefined when nginx takes it, else what nginx said */
  check(r: Rendered): Promise<string | undefined>;
  /** Makes a checked configuration the running one: the first call starts nginx, later ones reload it. */
  load(r: Rendered): Promise<void>;
  /** The upstreams' endpoints, to the Lua balancer (no reload). */
  setBackends(payload: string): Promise<void>;
  /** The request counters kept by the Lua log phase (KIND\tLABELS...\tVALUE lines). */
  counters(): Promise<string>;
  /** Whether nginx is running. */
  running(): boolean;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** the nginx binary */
  nginx: string;
  confDir: string;
  runDir: string;
  statusPort: number;
  log: (s: string) => void;
  /** called when the master exits on its own (not by stop) */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
  /** how long the old workers answer with Connection: close before a reload replaces them (default 500 ms; 0: reload at once) */
  drainMs?: number;
}

/** The default time between asking the running workers to drain and the reload. */
export const defaultDrainMs = 500;

function request(port: number, method: string, p: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, timeout: 5000, headers: body !== undefined ? { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`nginx status server: ${method} ${p} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

export class Nginx implements DataPlane {
  private master: Child | undefined;
  private stopping = false;
  private loaded: Rendered | undefined;

  constructor(
    private readonly o: NginxOptions,
    private readonly ex: Executor = defaultExecutor,
  ) {
    fs.mkdirSync(o.confDir, { recursive: true });
    fs.mkdirSync(o.runDir, { recursive: true, mode: 0o755 });
  }

  private get confFile(): string {
    return path.join(this.o.confDir, 'nginx.conf');
  }

  /** Writes the files a configuration names (certificates 0600; their names carry their content's hash, so the running configuration's stay as they are). */
  private writeFiles(r: Rendered): void {
    for (const [rel, content] of r.files) {
      const f = path.join(this.o.confDir, rel);
      fs.mkdirSync(path.dirname(f), { recursive: true, mode: rel.startsWith('ssl/') ? 0o700 : 0o755 });
      if (fs.existsSync(f) && fs.readFileSync(f, 'utf8') === content) continue;
      const tmp = `${f}.tmp`;
      fs.writeFileSync(tmp, content, { mode: rel.startsWith('ssl/') ? 0o600 : 0o644 });
      fs.renameSync(tmp, f);
    }
  }

  async check(r: Rendered): Promise<string | undefined> {
    this.writeFiles(r);
    const candidate = path.join(this.o.confDir, 'nginx.conf.check');
    fs.writeFileSync(candidate, r.conf);
    try {
      const res = await this.ex.execAsync([this.o.nginx, '-t', '-q', '-e', 'stderr', '-c', candidate], { timeoutMs: 30_000 });
      if (res.error) return res.error;
      return res.status === 0 ? undefined : res.stderr.trim() || `nginx -t exited with ${res.status}`;
    } finally {
      fs.rmSync(candidate, { force: true });
    }
  }

  async load(r: Rendered): Promise<void> {
    this.writeFiles(r);
    const tmp = `${this.confFile}.tmp`;
    fs.writeFileSync(tmp, r.conf);
    fs.renameSync(tmp, this.confFile);
    const previous = this.loaded;
    if (!this.master) await this.start();
    else {
      await this.drain(previous);
      this.master?.signal('SIGHUP');
    }
    this.loaded = r;
    if (previous) this.removeStale(r);
  }

  /**
   * Asks the running configuration's workers to drain: each client connection gets `Connection:
   * close` with its next response, so the connections nginx closes at the reload are mostly gone
   * already (nginx itself closes idle kept-alive connections at once, under any request just sent
   * on them). Best effort: a status server that does not answer only costs the wait.
   */
  private async drain(running: Rendered | undefined): Promise<void> {
    const ms = this.o.drainMs ?? defaultDrainMs;
    if (!running || ms <= 0) return;
    try {
      const r = await request(this.o.statusPort, 'POST', '/configuration/drain', running.generation);
      if (r.status !== 201) this.o.log(`nginx did not take the drain request: ${r.status} ${r.body.slice(0, 200)}`);
    } catch (e) {
      this.o.log(`nginx did not take the drain request: ${(e as Error).message}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Certificates no longer named by the running configuration. */
  private removeStale(r: Rendered): void {
    const dir = path.join(this.o.confDir, 'ssl');
    if (!fs.existsSync(dir)) return;
    for (const f of fs.readdirSync(dir)) if (!r.files.has(`ssl/${f}`)) fs.rmSync(path.join(dir, f), { force: true });
  }

  private async start(): Promise<void> {
    this.master = await startChild([this.o.nginx, '-e', 'stderr', '-c', this.confFile]);
    const m = this.master;
    void m.exited.then(({ code, signal }) => {
      if (this.master === m) this.master = undefined;
      if (!this.stopping) {
        this.o.log(`nginx exited (${signal ?? code})`);
        this.o.onExit?.(code, signal);
      }
    });
    // ready when its status server answers
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        if ((await request(this.o.statusPort, 'GET', '/healthz')).status === 200) break;
      } catch {
        // not yet listening
      }
      if (!this.master) throw new Error('nginx exited while starting (its log says why)');
      if (Date.now() > deadline) throw new Error(`nginx did not answer on 127.0.0.1:${this.o.statusPort} within 15 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    this.o.log(`nginx started (pid ${m.pid})`);
  }

  async setBackends(payload: string): Promise<void> {
    const r = await request(this.o.statusPort, 'POST', '/configuration/backends', payload);
    if (r.status !== 201) throw new Error(`nginx refused the endpoint update: ${r.status} ${r.body.slice(0, 200)}`);
  }

  async counters(): Promise<string> {
    if (!this.master) return '';
    return (await request(this.o.statusPort, 'GET', '/configuration/metrics')).body;
  }

  running(): boolean {
    return this.master !== undefined;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const m = this.master;
    if (!m) return;
    m.signal('SIGTERM');
    const killed = setTimeout(() => m.signal('SIGKILL'), 5000);
    await m.exited;
    clearTimeout(killed);
    this.master = undefined;
  }
}
