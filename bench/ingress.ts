// The Ingress controller's benchmark (ingress-nginx's "poor performance in benchmark",
// kubernetes/ingress-nginx#5658: ingress-nginx 153k rps against 337k for a plain nginx in front
// of the same backends). One 1-node lab (`podpath up --no-netpol`, cluster DNS kept) with
//   - bench-backend: a Deployment of 2 pods running the host's nginx with a fixed 3-byte body
//     (`return 200 "ok\n"`, no access log), a ClusterIP Service and an Ingress for
//     bench.example.com (class nginx) through the lab's controller;
//   - bench-drain: the same with drain.example.com, but its pods keep serving 2 s after SIGTERM
//     and then quit gracefully (what a `preStop: sleep` does; podpath has no lifecycle hooks);
//   - bench-plain: a hand-written nginx in a pod of its own behind its own LoadBalancer Service
//     (externalTrafficPolicy Local, as the controller's), a static `upstream` of the same two pod
//     IPs with `keepalive 320`, `proxy_http_version 1.1`, `proxy_set_header Connection ""`, and the
//     controller's worker_processes (auto), listen options and keepalive settings.
// From the lab's client namespace, wrk measures
//   1. throughput and p99 of (a) the controller through its LoadBalancer IP, (b) the plain
//      nginx through its LoadBalancer IP, (c) one backend pod directly, (d) the Gateway
//      controller (podpath-gateway) through the Gateway's LoadBalancer IP, a Gateway and an HTTPRoute for
//      the same host and Service; interleaved a,b,c,d per round over --rounds rounds, medians
//      reported, (a)/(b) and (d)/(a) paired within each round; and for each target the CPU per
//      request of every process, by the pod, node or client namespace it runs in;
//   2. configuration changes: during a --churn-duration wrk run against (a), --changes new
//      Ingresses (another host each, evenly spaced); in the same kind of run against (b),
//      --changes `nginx -s reload`s (SIGHUP to its master, whose PID is in a pid file this bench
//      chose). Failed requests and reloads. Alongside each of those two wrk runs, a retrying
//      keep-alive client (bench/ingress-client.ts) counts its requests and failures;
//   3. endpoint changes: bench-backend, then bench-drain, scaled 2 -> 6 -> 2 during a wrk run
//      against (a): failed requests, and the controller's reload count
//      (nginx_ingress_controller_success on its :10254) before and after (the endpoints go to the
//      Lua balancer; nothing should reload). The endpoints the balancer holds are sampled from
//      the controller's status server, and the controller's log (nginx's access and error logs)
//      is summarised for each phase, so a failure says what it was.
// The three throughput targets take the same path but for the proxy: client namespace -> the
// node (kube-proxy's DNAT of the LoadBalancer IP, none for (c)) -> the pod(s). Everything shares
// the machine's CPUs (nothing pinned), so the figures are for comparing with each other.
// Root only; the lab (named ppbi…) and the scratch directory are removed even on failure.
//   npm run build && node --import tsx bench/ingress.ts [--duration 10] [--connections 50] [--threads 2] [--rounds 3]
//       [--churn-duration 30] [--changes 15] [--endpoint-duration 15] [--client-connections 8] [--plain-access-log]
// (--plain-access-log: the plain nginx writes an access log line per request to a file, in the
// controller's format, as the controller does to its container log.)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sandboxName } from '../src/agent/sandbox.ts';
import type { KubeObject } from '../src/api/types.ts';
import { Client, loadConfig } from '../src/client/client.ts';
import { upstreamInfoFormat } from '../src/ingress/nginx/template.ts';
import { readState, type LabState } from '../src/lab/lab.ts';
import { pidsIn } from '../src/exec/netns.ts';
import YAML from 'yaml';
import { podpathBin, repoRoot } from '../test/helpers/apiserver.ts';
import { arg, cpuByPlace, cpuSnapshot, sleep } from './common.ts';

const duration = Number(arg('duration', '10'));
const connections = Number(arg('connections', '50'));
const threads = Number(arg('threads', '2'));
const rounds = Number(arg('rounds', '3'));
const churnSeconds = Number(arg('churn-duration', '30'));
const changes = Number(arg('changes', '15'));
const endpointSeconds = Number(arg('endpoint-duration', '15'));
const clientConnections = Number(arg('client-connections', '8'));
const plainAccessLog = process.argv.includes('--plain-access-log');
const HOST = 'bench.example.com';
const DRAIN_HOST = 'drain.example.com';
const BACKEND_PORT = 8080;

const t0 = Date.now();
const name = `ppbi${randomBytes(3).toString('hex')}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podpath-bench-ingress-'));
const kubeconfig = path.join(dir, 'kubeconfig');
const children = new Set<ChildProcess>();

// ---------------------------------------------------------------------------------------------
// nginx configurations and manifests

const tempPaths = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `${k}_temp_path ${dir}/tmp-${k};`).join('\n    ');

const backendConf = `# bench/ingress.ts: a backend, the host's nginx in a pod
worker_processes 1;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_timeout 75s;
    keepalive_requests 100000;
    ${tempPaths}
    server {
        listen ${BACKEND_PORT} backlog=4096;
        location / { default_type text/plain; return 200 "ok\\n"; }
    }
}
`;

/** The hand-written reverse proxy: the controller's worker and keepalive settings, none of its Lua, headers or (by default) logging. */
function plainConf(backends: string[]): string {
  return `# bench/ingress.ts: a hand-written nginx in front of the same pods
worker_processes auto;
worker_rlimit_nofile 65535;
events { multi_accept on; worker_connections 16384; use epoll; }
http {
    ${plainAccessLog ? `log_format upstreaminfo '${upstreamInfoFormat.replace(/ \[\$proxy_upstream_name\] \[\$proxy_alternative_upstream_name\]/, '').replace('$req_id', '$request_id')}';\n    access_log ${dir}/plain-access.log upstreaminfo;` : 'access_log off;'}
    keepalive_timeout 75s;
    keepalive_requests 1000;
    ${tempPaths}
    upstream bench_backend {
${backends.map((b) => `        server ${b};`).join('\n')}
        keepalive 320;
        keepalive_timeout 60s;
        keepalive_requests 10000;
    }
    server {
        listen 80 default_server reuseport backlog=4096;
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_pass http://bench_backend;
        }
    }
}
`;
}

/**
 * A container running the host's nginx with `conf`, its pid file in the scratch directory. With
 * `drainMs`, SIGTERM does not reach nginx at once: nginx runs in a session of its own (the agent
 * signals the container's process group), and the shell keeps it serving that long, then asks it
 * to quit gracefully (SIGQUIT) and waits for it — the `preStop: sleep` real Deployments use so
 * that the endpoint is gone from the load balancers before the server goes (podpath has no
 * lifecycle hooks).
 */
function nginxContainer(role: string, conf: string, port: number, drainMs = 0): Record<string, unknown> {
  const nginx = `nginx -e stderr -c ${conf} -g "daemon off; pid ${dir}/${role}-$POD_NAME.pid;"`;
  return {
    name: 'nginx',
    image: 'host/nginx',
    command: ['sh', '-c', drainMs ? `setsid ${nginx} & pid=$!; trap "sleep ${drainMs / 1000}; kill -QUIT $pid" TERM; wait $pid; wait $pid` : `exec ${nginx}`],
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    ports: [{ containerPort: port }],
    readinessProbe: { tcpSocket: { port }, periodSeconds: 1 },
    // a container's own writes stay in its root; the pid file must reach the host's directory
    volumeMounts: [{ name: 'scratch', mountPath: dir }],
  };
}

function deployment(app: string, replicas: number, container: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: app, namespace: 'default', labels: { app } },
    spec: { replicas, selector: { matchLabels: { app } }, template: { metadata: { labels: { app } }, spec: { terminationGracePeriodSeconds: 5, containers: [container], volumes: [{ name: 'scratch', hostPath: { path: dir, type: 'Directory' } }] } } },
  } as KubeObject;
}

function ingress(ingName: string, host: string, svc = 'bench-backend'): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: ingName, namespace: 'default' },
    spec: { ingressClassName: 'nginx', rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: svc, port: { number: 80 } } } }] } }] },
  } as KubeObject;
}

const labManifests: KubeObject[] = [
  deployment('bench-backend', 2, nginxContainer('backend', `${dir}/backend.conf`, BACKEND_PORT)),
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bench-backend', namespace: 'default' }, spec: { type: 'ClusterIP', selector: { app: 'bench-backend' }, ports: [{ name: 'http', port: 80, targetPort: BACKEND_PORT }] } } as KubeObject,
  ingress('bench', HOST),
  deployment('bench-drain', 2, nginxContainer('drain', `${dir}/backend.conf`, BACKEND_PORT, 2000)),
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bench-drain', namespace: 'default' }, spec: { type: 'ClusterIP', selector: { app: 'bench-drain' }, ports: [{ name: 'http', port: 80, targetPort: BACKEND_PORT }] } } as KubeObject,
  ingress('bench-drain', DRAIN_HOST, 'bench-drain'),
];

// ---------------------------------------------------------------------------------------------
// helpers

function run(argv: string[], timeoutMs = 30_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
const podpath = (args: string[], timeoutMs = 300_000) => run([process.execPath, podpathBin, ...args], timeoutMs);
const inNs = (ns: string, argv: string[]) => ['ip', 'netns', 'exec', ns, ...argv];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)} s`;
const log = (s: string) => console.log(s);

/** Polls `f` every `everyMs` until it returns something other than undefined, at most `maxMs`. */
async function until<T>(what: string, maxMs: number, f: () => Promise<T | undefined> | T | undefined, everyMs = 250): Promise<T> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${maxMs / 1000} s`);
    await sleep(everyMs);
  }
}

/** A child process of this bench, tracked so a failure can end it (by its PID). */
function start(argv: string[]): { child: ChildProcess; output: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const output = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, output };
}

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  non2xx: number;
  failed: number;
}

const ms = (v: string, unit: string) => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 1);

function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? ms(m[1]!, m[2]!) : NaN;
  };
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const [connect, read, write, timeout] = se ? se.slice(1).map(Number) : [0, 0, 0, 0];
  const non2xx = num(/Non-2xx or 3xx responses: (\d+)/) || 0;
  const r = { rps: num(/Requests\/sec:\s+([\d.]+)/), p50: pct('50'), p99: pct('99'), requests: num(/(\d+) requests in/), connect: connect!, read: read!, write: write!, timeout: timeout!, non2xx };
  if (!Number.isFinite(r.rps)) throw new Error(`cannot read wrk's output:\n${out}`);
  return { ...r, failed: connect! + read! + write! + timeout! + non2xx };
}

const wrkArgs = (seconds: number, host = HOST) => ['wrk', '-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--latency', '-H', `Host: ${host}`];

interface ClientResult {
  requests: number;
  ok: number;
  failed: number;
  retried: number;
  retriedOk: number;
  non2xx3xx: number;
  errors: Record<string, number>;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/ingress.ts builds a lab and needs root');
  for (const tool of ['nginx', 'wrk']) if (spawnSync(tool, ['-v']).error) throw new Error(`${tool} is missing (scripts: install-deps installs nginx, libnginx-mod-http-lua and wrk)`);
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, 'backend.conf'), backendConf);
  const manifests = path.join(dir, 'manifests');
  fs.mkdirSync(manifests);
  fs.writeFileSync(path.join(manifests, 'bench.yaml'), labManifests.map((o) => YAML.stringify(o)).join('---\n'));
  const chk = run(['nginx', '-t', '-q', '-e', 'stderr', '-c', path.join(dir, 'backend.conf'), '-g', `pid ${dir}/check.pid;`]);
  if (chk.status !== 0) throw new Error(`nginx -t of the backend configuration: ${chk.stderr}`);

  const nginxVersion = run(['nginx', '-v']).stderr.trim().replace(/^nginx version: /, '');
  const luaVersion = run(['dpkg-query', '-W', '-f', '${Version}', 'libnginx-mod-http-lua']).stdout.trim() || '?';
  const wrkVersion = /wrk (\S+)/.exec(run(['wrk', '-v']).stdout)?.[1] ?? '?';
  const cpu = os.cpus();
  log(`bench/ingress: lab ${name}; ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? '?'}), shared — load average at start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; nothing pinned`);
  log(`nginx ${nginxVersion} (host package, every nginx here), libnginx-mod-http-lua ${luaVersion}, wrk ${wrkVersion}, node ${process.version}`);
  log(`wrk from the client namespace: ${wrkArgs(duration).join(' ')} URL; ${rounds} rounds a,b,c,d interleaved (after a 2 s warm-up of each)`);

  // 1. the lab
  const tUp = Date.now();
  const up = podpath(['up', '--name', name, '--no-netpol', '--kubeconfig', kubeconfig, '-f', manifests]);
  if (up.status !== 0) throw new Error(`podpath up failed:\n${up.stdout}\n${up.stderr}`);
  const s = readState(name) as LabState;
  const clientNs = s.client;
  const nodeNs = s.nodes[0]!.netns;
  const api = new Client(loadConfig(kubeconfig));
  try {
    type Pod = { metadata: { name: string; uid: string; deletionTimestamp?: string }; status?: { podIP?: string; phase?: string } };
    const pods = async (selector: string, namespace = 'default') => (await api.get<{ items: Pod[] }>(`/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`)).items;
    const lbIP = (namespace: string, svc: string) =>
      until(`LoadBalancer IP of ${namespace}/${svc}`, 60_000, async () => {
        // a Gateway's Service comes a moment after the Gateway
        const o = await api.get<{ status?: { loadBalancer?: { ingress?: { ip?: string }[] } } }>(`/api/v1/namespaces/${namespace}/services/${svc}`).catch((e: { status?: { code?: number } }) => {
          if (e.status?.code === 404) return undefined;
          throw e;
        });
        return o?.status?.loadBalancer?.ingress?.[0]?.ip;
      });
    const httpStatus = (url: string) => run(inNs(clientNs, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', '-H', `Host: ${HOST}`, url])).stdout.trim();

    const backends = (await pods('app=bench-backend')).filter((p) => p.status?.podIP).map((p) => p.status!.podIP!);
    if (backends.length !== 2) throw new Error(`expected 2 backend pods with IPs, have ${backends.length}`);
    const [controller] = await pods('app.kubernetes.io/component=controller', 'ingress-nginx');
    if (!controller?.status?.podIP) throw new Error('no Ingress controller pod with an IP');
    const controllerIP = controller.status.podIP;
    const controllerNs = sandboxName(s.podNetnsPrefix, controller.metadata.uid);
    const controllerLog = findFile(s.stateDir, `${controller.metadata.uid}_controller.log`);
    if (!controllerLog) throw new Error(`no container log of the controller pod under ${s.stateDir}`);
    const logSize = () => fs.statSync(controllerLog).size;
    const ingressIP = await lbIP('ingress-nginx', 'ingress-nginx-controller');
    const urlA = `http://${ingressIP}/`;
    const urlC = `http://${backends[0]}:${BACKEND_PORT}/`;
    await until(`200 from ${urlA} (Host ${HOST})`, 60_000, () => (httpStatus(urlA) === '200' ? true : undefined));

    // the hand-written nginx, now that the pod IPs are known
    fs.writeFileSync(path.join(dir, 'plain.conf'), plainConf(backends.map((ip) => `${ip}:${BACKEND_PORT}`)));
    await api.request('POST', '/apis/apps/v1/namespaces/default/deployments', deployment('bench-plain', 1, nginxContainer('plain', `${dir}/plain.conf`, 80)));
    await api.request('POST', '/api/v1/namespaces/default/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'bench-plain', namespace: 'default' },
      spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', selector: { app: 'bench-plain' }, ports: [{ name: 'http', port: 80, targetPort: 80 }] },
    });
    const plainIP = await lbIP('default', 'bench-plain');
    const urlB = `http://${plainIP}/`;
    await until(`200 from ${urlB}`, 60_000, () => (httpStatus(urlB) === '200' ? true : undefined));
    const [plainPod] = await pods('app=bench-plain');
    const plainNs = sandboxName(s.podNetnsPrefix, plainPod!.metadata.uid);
    const workers = (ns: string) => pidsIn(ns).filter((p) => /^nginx: worker process/.test(readCmdline(p))).length;
    log(`lab up in ${((Date.now() - tUp) / 1000).toFixed(1)} s (1 node, kube-proxy iptables mode, cluster DNS, no NetworkPolicy agent); backends ${backends.join(', ')} :${BACKEND_PORT}`);
    log(`nginx workers: controller ${workers(controllerNs)} (worker_processes auto), plain ${workers(plainNs)} (auto), each backend 1; plain access log: ${plainAccessLog ? 'on, to a file' : 'off'}; the controller logs every request to its container log (ingress-nginx's default)`);
    // (d): a Gateway of the lab's class and an HTTPRoute for the same host and Service
    const G = '/apis/gateway.networking.k8s.io/v1/namespaces/default';
    await api.request('POST', `${G}/gateways`, { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'bench', namespace: 'default' }, spec: { gatewayClassName: 'podpath', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } });
    await api.request('POST', `${G}/httproutes`, { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'bench', namespace: 'default' }, spec: { parentRefs: [{ name: 'bench' }], hostnames: [HOST], rules: [{ backendRefs: [{ name: 'bench-backend', port: 80 }] }] } });
    // the Gateway's own LoadBalancer Service (GATEWAY-CLASS, in the Gateway's namespace)
    const gatewayIP = await lbIP('default', 'bench-podpath');
    const urlD = `http://${gatewayIP}/`;
    await until(`200 from ${urlD} (Host ${HOST})`, 60_000, () => (httpStatus(urlD) === '200' ? true : undefined));
    const targets: [string, string, string][] = [
      ['a', 'podpath controller', urlA],
      ['b', 'plain nginx', urlB],
      ['c', 'direct to one pod', urlC],
      ['d', 'podpath Gateway', urlD],
    ];
    for (const [k, what, url] of targets) log(`  (${k}) ${what.padEnd(19)} ${url}`);

    // metrics: reloads and endpoint updates of the controller
    const metrics = () => {
      const r = run(inNs(nodeNs, ['curl', '-s', '--max-time', '5', `http://${controllerIP}:10254/metrics`]));
      const value = (m: string) => Number(new RegExp(`^${m}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(r.stdout)?.[1] ?? NaN);
      return { reloads: value('nginx_ingress_controller_success'), endpointUpdates: value('podpath_ingress_endpoint_updates_total') || 0 };
    };
    /** the reload count once it has not moved for 2 s (at most 20 s) */
    const settledReloads = async () => {
      let last = metrics().reloads;
      for (let i = 0; i < 20; i++) {
        await sleep(2000);
        const now = metrics().reloads;
        if (now === last) return now;
        last = now;
      }
      return last;
    };
    /** the endpoints of Service `svc` the Lua balancer holds, from the controller's status server */
    const luaEndpoints = (svc: string) => {
      const r = run(inNs(controllerNs, ['curl', '-s', '--max-time', '2', 'http://127.0.0.1:10246/configuration/backends']));
      const line = r.stdout.split('\n').find((l) => l.startsWith(`default-${svc}-`));
      return line ? line.trim().split(/\s+/).length - 1 : -1;
    };
    const wrk = async (url: string, seconds: number, host = HOST): Promise<WrkResult> => {
      const r = await start(inNs(clientNs, [...wrkArgs(seconds, host), url])).output;
      if (r.code !== 0) throw new Error(`wrk ${url} exited with ${r.code}: ${r.stderr}`);
      return parseWrk(r.stdout);
    };
    const retryingClient = async (url: string, seconds: number): Promise<ClientResult> => {
      const r = await start(inNs(clientNs, [process.execPath, '--import', 'tsx', path.join(repoRoot, 'bench/ingress-client.ts'), '--url', url, '--host', HOST, '--duration', String(seconds), '--connections', String(clientConnections)])).output;
      if (r.code !== 0) throw new Error(`ingress-client ${url} exited with ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as ClientResult;
    };

    // 2. throughput, interleaved
    log(`\n== throughput (${elapsed()}) ==`);
    for (const [, , url] of targets) await wrk(url, 2);
    const runs: Record<string, WrkResult[]> = { a: [], b: [], c: [], d: [] };
    const fmt = (r: WrkResult) => `${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  failed ${r.failed}`;
    // where the CPU goes per target: by network namespace (the pods, the node, the client's wrk) and command
    const ino = (ns: string) => fs.statSync(`/run/netns/${ns}`).ino;
    const places = new Map<number, string>([[ino(controllerNs), 'controller-pod'], [ino(plainNs), 'plain-pod'], [ino(nodeNs), 'node'], [ino(clientNs), 'client'], [fs.statSync('/proc/self/ns/net').ino, 'host']]);
    for (const b of await pods('app=bench-backend')) places.set(ino(sandboxName(s.podNetnsPrefix, b.metadata.uid)), 'backend-pod');
    // every other pod (the Gateway's data plane among them) by its namespace and owner's name
    for (const p of (await api.get<{ items: (Pod & { metadata: { namespace: string; generateName?: string } })[] }>('/api/v1/pods')).items) {
      const i = ino(sandboxName(s.podNetnsPrefix, p.metadata.uid));
      if (!places.has(i)) places.set(i, `${p.metadata.namespace}/${(p.metadata.generateName ?? p.metadata.name).replace(/-$/, '')}`);
    }
    const cpuUs: Record<string, Map<string, number>> = { a: new Map(), b: new Map(), c: new Map(), d: new Map() };
    for (let round = 1; round <= rounds; round++) {
      for (const [k, what, url] of targets) {
        const c0 = cpuSnapshot();
        const r = await wrk(url, duration);
        for (const [key, sec] of cpuByPlace(c0, cpuSnapshot(), places)) cpuUs[k]!.set(key, (cpuUs[k]!.get(key) ?? 0) + (sec * 1e6) / (r.rps * duration));
        runs[k]!.push(r);
        log(`round ${round}  (${k}) ${what.padEnd(19)} ${fmt(r)}`);
      }
    }
    log('CPU per request (µs, mean of the rounds; processes by the network namespace they run in; wrk, gone by then, not counted):');
    for (const [k, what] of targets) {
      const top = [...cpuUs[k]!].sort((p, q) => q[1] - p[1]).filter(([, us]) => us / rounds >= 0.5);
      const total = [...cpuUs[k]!.values()].reduce((x, y) => x + y, 0) / rounds;
      log(`  (${k}) ${what.padEnd(19)} ${total.toFixed(1).padStart(6)} in all: ${top.map(([key, us]) => `${key} ${(us / rounds).toFixed(1)}`).join(', ')}`);
    }
    const ratios = runs.a!.map((r, i) => (r.rps / runs.b![i]!.rps) * 100);
    const ratiosC = runs.a!.map((r, i) => (r.rps / runs.c![i]!.rps) * 100);
    const ratiosD = runs.d!.map((r, i) => (r.rps / runs.a![i]!.rps) * 100);

    // 3. configuration changes: new Ingresses against (a), SIGHUPs against (b); the retrying client alongside
    log(`\n== configuration changes: ${changes} in ${churnSeconds} s, wrk and the retrying client (${clientConnections} keep-alive connections) at once (${elapsed()}) ==`);
    const spacing = (churnSeconds * 1000) / changes;
    const reloadsA0 = await settledReloads();
    const logA = logSize();
    const tA = Date.now();
    const wrkA = wrk(urlA, churnSeconds);
    const clientA = retryingClient(urlA, churnSeconds);
    for (let i = 0; i < changes; i++) {
      await sleep(Math.max(0, tA + 1000 + i * spacing - Date.now()));
      await api.request('POST', '/apis/networking.k8s.io/v1/namespaces/default/ingresses', ingress(`churn-${i}`, `churn-${i}.example.com`));
    }
    const [churnA, churnClientA] = [await wrkA, await clientA];
    const reloadsA1 = await settledReloads();
    log(`(a) ${changes} new Ingresses: wrk ${fmt(churnA)} (read errors ${churnA.read}, non-2xx ${churnA.non2xx}); reloads ${reloadsA0} -> ${reloadsA1}`);
    log(`    retrying client: ${JSON.stringify(churnClientA)}`);
    printLogSummary('the controller\'s log meanwhile', await summarizeLog(controllerLog, logA));
    // sanity: the new hosts are served
    const churnServed = httpStatusFor(clientNs, urlA, `churn-${changes - 1}.example.com`);

    const pidFile = fs.readdirSync(dir).find((f) => /^plain-.*\.pid$/.test(f));
    const plainPid = Number(fs.readFileSync(path.join(dir, pidFile ?? 'missing'), 'utf8').trim());
    if (!/^nginx: master process/.test(readCmdline(plainPid)) || !pidsIn(plainNs).includes(plainPid)) throw new Error(`pid ${plainPid} from ${pidFile} is not the plain nginx master in ${plainNs}`);
    const workersBefore = workerPids(plainNs);
    const tB = Date.now();
    const wrkB = wrk(urlB, churnSeconds);
    const clientB = retryingClient(urlB, churnSeconds);
    for (let i = 0; i < changes; i++) {
      await sleep(Math.max(0, tB + 1000 + i * spacing - Date.now()));
      process.kill(plainPid, 'SIGHUP');
    }
    const [churnB, churnClientB] = [await wrkB, await clientB];
    const replaced = workerPids(plainNs).every((p) => !workersBefore.includes(p));
    log(`(b) ${changes} SIGHUPs to the plain nginx master (pid ${plainPid}; workers replaced: ${replaced ? 'yes' : 'NO'}): wrk ${fmt(churnB)} (read errors ${churnB.read}, non-2xx ${churnB.non2xx})`);
    log(`    retrying client: ${JSON.stringify(churnClientB)}`);

    // 4. endpoint changes: 2 -> 6 -> 2 during a wrk run against (a), for backends that exit at
    // SIGTERM (bench-backend) and for backends that drain first (bench-drain)
    const scaleRun = async (app: string, host: string) => {
      log(`\n== endpoint changes: ${app} 2 -> 6 -> 2 during a ${endpointSeconds} s wrk run against (a), Host ${host} (${elapsed()}) ==`);
      const before = { ...metrics(), reloads: await settledReloads() };
      const scale = (n: number) => api.request('PATCH', `/apis/apps/v1/namespaces/default/deployments/${app}`, { spec: { replicas: n } }, 'application/merge-patch+json');
      const logE = logSize();
      const tE = Date.now();
      const wrkE = wrk(urlA, endpointSeconds, host);
      // the Lua balancer's endpoints of this upstream, sampled every 100 ms: every count it passes through
      const timeline: string[] = [];
      let sampling = true;
      const sampler = (async () => {
        let last: number | undefined;
        while (sampling && Date.now() - tE < (endpointSeconds + 60) * 1000) {
          const n = luaEndpoints(app);
          if (n !== last) timeline.push(`${((Date.now() - tE) / 1000).toFixed(1)} s: ${n}`);
          last = n;
          await sleep(100);
        }
      })();
      await sleep(2000);
      const tUpScale = Date.now();
      await scale(6);
      await until('6 endpoints in the Lua balancer', 60_000, () => (luaEndpoints(app) === 6 ? true : undefined), 100);
      const upMs = Date.now() - tUpScale;
      await sleep(3000);
      const tDown = Date.now();
      await scale(2);
      await until('2 endpoints in the Lua balancer', 60_000, () => (luaEndpoints(app) === 2 ? true : undefined), 100);
      const downMs = Date.now() - tDown;
      await until(`${app} back to 2 pods`, 60_000, async () => ((await pods(`app=${app}`)).length === 2 ? true : undefined), 250);
      const goneMs = Date.now() - tDown;
      const churnDone = (Date.now() - tE) / 1000;
      const r = await wrkE;
      sampling = false;
      await sampler;
      const after = { ...metrics(), reloads: await settledReloads() };
      log(`scaled to 6 at ${((tUpScale - tE) / 1000).toFixed(1)} s: 6 endpoints in the Lua balancer after ${(upMs / 1000).toFixed(1)} s; scaled to 2: 2 endpoints after ${(downMs / 1000).toFixed(1)} s, the 4 pods gone after ${(goneMs / 1000).toFixed(1)} s; churn over at ${churnDone.toFixed(1)} s of ${endpointSeconds} s${churnDone > endpointSeconds ? ' (OUTLASTED the wrk run)' : ''}`);
      log(`(a) wrk ${fmt(r)} (connect ${r.connect}, read ${r.read}, write ${r.write}, timeout ${r.timeout}, non-2xx ${r.non2xx}); reloads ${before.reloads} -> ${after.reloads}; endpoint updates sent to Lua ${before.endpointUpdates} -> ${after.endpointUpdates}`);
      log(`  the Lua balancer's endpoints (sampled every 100 ms from the start of the wrk run): ${timeline.join(', ')}`);
      printLogSummary("the controller's log meanwhile", await summarizeLog(controllerLog, logE));
      return { r, reloads: after.reloads - before.reloads };
    };
    const endpoints = await scaleRun('bench-backend', HOST);
    const drained = await scaleRun('bench-drain', DRAIN_HOST);

    // the report
    const m = (k: string, f: (r: WrkResult) => number) => median(runs[k]!.map(f));
    log(`\n== summary (${elapsed()} in all) ==`);
    log(`setup: ${cpu.length} CPUs shared by wrk, the proxies and the backends; wrk -t ${threads} -c ${connections} -d ${duration}s --latency -H 'Host: ${HOST}' from the lab's client namespace; nginx ${nginxVersion}; body "ok\\n"`);
    log('');
    log('target                                         req/s (median)   p99 ms (median)   rounds (req/s)');
    for (const [k, what, url] of targets) {
      log(`(${k}) ${`${what} ${url}`.padEnd(42)} ${m(k, (r) => r.rps).toFixed(0).padStart(14)}   ${m(k, (r) => r.p99).toFixed(2).padStart(15)}   ${runs[k]!.map((r) => r.rps.toFixed(0)).join(', ')}`);
    }
    log('');
    log(`(a)/(b): ${median(ratios).toFixed(0)}% of the plain nginx's requests/s (paired per round: ${ratios.map((x) => x.toFixed(0)).join(', ')}%; aim >= 90%)`);
    log(`(a)/(c): ${median(ratiosC).toFixed(0)}% of a direct connection to one pod (paired per round: ${ratiosC.map((x) => x.toFixed(0)).join(', ')}%)`);
    log(`(d)/(a): ${median(ratiosD).toFixed(0)}% of the Ingress's requests/s through the Gateway (same nginx template and Lua balancer, the route chosen in Lua; paired per round: ${ratiosD.map((x) => x.toFixed(0)).join(', ')}%)`);
    log(`public anchor: kubernetes/ingress-nginx#5658, ingress-nginx 153,473 vs plain nginx 336,769 req/s (46%), wrk, other hardware — compare the ratio, not the numbers`);
    log('');
    log('changes during load                            wrk requests   wrk failed   per 1M   reloads     retrying client: requests / failed (retried)');
    const cl = (c: ClientResult) => `${c.requests} / ${c.failed} (${c.retried})`;
    const row = (label: string, r: WrkResult, reloads: string, c?: ClientResult) =>
      log(`${label.padEnd(47)}${String(r.requests).padStart(12)}   ${String(r.failed).padStart(10)}   ${((r.failed / r.requests) * 1e6).toFixed(0).padStart(6)}   ${reloads.padStart(7)}     ${c ? cl(c) : '-'}`);
    row(`(a) ${changes} new Ingresses in ${churnSeconds} s`, churnA, `+${reloadsA1 - reloadsA0}`, churnClientA);
    row(`(b) ${changes} nginx -s reload in ${churnSeconds} s`, churnB, `${changes} HUP`, churnClientB);
    row(`(a) scale 2 -> 6 -> 2 in ${endpointSeconds} s, pods exit at TERM`, endpoints.r, `+${endpoints.reloads}`);
    row('(a) the same, pods drain 2 s at TERM', drained.r, `+${drained.reloads}`);
    log(`failed = wrk's socket errors (connect, read, write, timeout) + non-2xx/3xx; the new Ingress hosts served: churn-${changes - 1}.example.com -> HTTP ${churnServed}`);
  } finally {
    api.close();
  }
}

/** A file named `base` under `root` (the lab's state directory), searched at most 4 levels deep. */
function findFile(root: string, base: string, depth = 4): string | undefined {
  if (depth < 0) return undefined;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch {
    return undefined;
  }
  for (const e of entries) if (e.isFile() && e.name === base) return path.join(root, e.name);
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const f = findFile(path.join(root, e.name), base, depth - 1);
    if (f) return f;
  }
  return undefined;
}

interface LogSummary {
  /** access log lines by status */
  statuses: Record<string, number>;
  /** the first access log lines whose status is not 200 */
  samples: string[];
  /** nginx's error log lines (and the controller's own lines) by message, addresses and times left out */
  messages: Record<string, number>;
}

/** What the controller's container log (nginx's access and error logs, the controller's lines) gained from byte `from` on. */
async function summarizeLog(file: string, from: number): Promise<LogSummary> {
  const out: LogSummary = { statuses: {}, samples: [], messages: {} };
  const { createInterface } = await import('node:readline');
  const lines = createInterface({ input: fs.createReadStream(file, { start: from }), crlfDelay: Infinity });
  for await (const raw of lines) {
    // a container log line: TIMESTAMP STREAM FLAG then what nginx wrote
    const line = raw.replace(/^\S+Z (stdout|stderr) [FP] /, '');
    const a = /^\S+ - \S+ \[[^\]]+\] "[^"]*" (\d{3}) /.exec(line);
    if (a) {
      out.statuses[a[1]!] = (out.statuses[a[1]!] ?? 0) + 1;
      if (a[1] !== '200' && out.samples.length < 5) out.samples.push(line);
      continue;
    }
    const msg = line
      .replace(/^\S+ \S+ \[(\w+)\] \d+#\d+: (\*\d+ )?/, '[$1] ')
      .replace(/^\S+Z ingress-controller: /, 'controller: ')
      .replace(/client: [^,]+, /, '')
      .replace(/\b\d+\.\d+\.\d+\.\d+(:\d+)?\b/g, 'ADDR')
      .replace(/request: "[^"]*", /, '')
      .replace(/, host: "[^"]*"/, '')
      .replace(/pid \d+/, 'pid N')
      .trim();
    if (msg) out.messages[msg] = (out.messages[msg] ?? 0) + 1;
  }
  return out;
}

function printLogSummary(label: string, l: LogSummary): void {
  console.log(`  ${label}: access log statuses ${JSON.stringify(l.statuses)}`);
  for (const x of l.samples) console.log(`    ${x}`);
  const msgs = Object.entries(l.messages).sort((a, b) => b[1] - a[1]);
  for (const [m, n] of msgs.slice(0, 8)) console.log(`    ${String(n).padStart(6)} x ${m.slice(0, 220)}`);
  if (msgs.length > 8) console.log(`    (${msgs.length - 8} more kinds of line)`);
}

function readCmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

const workerPids = (ns: string) => pidsIn(ns).filter((p) => /^nginx: worker process/.test(readCmdline(p)));

function httpStatusFor(ns: string, url: string, host: string): string {
  return run(inNs(ns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', '-H', `Host: ${host}`, url])).stdout.trim();
}

/** Ends this bench's children (by PID), removes the lab and the scratch directory. */
function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
  const down = podpath(['down', '--name', name], 120_000);
  if (down.status !== 0) console.error(`podpath down --name ${name} failed:\n${down.stdout}\n${down.stderr}`);
  // an nginx of this bench's pods still running (a pid file in the scratch directory names it, and
  // its command line names this bench's configuration): ended by its PID
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).filter((x) => x.endsWith('.pid')) : []) {
    const pid = Number(fs.readFileSync(path.join(dir, f), 'utf8').trim());
    if (pid > 0 && /^nginx: master process/.test(readCmdline(pid)) && readCmdline(pid).includes(`-c ${dir}/`)) {
      console.error(`ending nginx ${pid} (${f}), left running after the lab was removed`);
      process.kill(pid, 'SIGTERM');
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

let cleaned = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (!cleaned) {
      cleaned = true;
      cleanup();
    }
    process.exit(130);
  });
}

main()
  .then(
    () => 0,
    (e) => {
      console.error(e);
      return 1;
    },
  )
  .then((code) => {
    if (!cleaned) {
      cleaned = true;
      cleanup();
    }
    process.exit(code);
  });
