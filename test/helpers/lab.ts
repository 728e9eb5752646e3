// Test helpers for labs: `podpath up` as a real child process with a unique lab name, the real
// kubectl pointed at the lab's kubeconfig, curl inside the lab, and `podpath down`.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { listNetns } from '../../src/exec/netns.ts';
import { alive } from '../../src/exec/proc.ts';
import { loadConfig } from '../../src/client/client.ts';
import { labPaths, readState } from '../../src/lab/lab.ts';
import { makeKubectl, podpathBin, tempDir, type KubectlResult } from './apiserver.ts';

export const isRoot = process.getuid?.() === 0;
/** Test labs and scratch namespaces are named ppt<random>. */
export const testLabPrefix = 'ppt';

/**
 * A name for a lab or scratch namespace of this test run: ppt, the tag, random hex. bin/run-tests.js
 * checks that nothing of the names its run claimed is left (the claims are files in a directory of
 * the run), so runs side by side on one machine do not flag each other's labs.
 */
export function testName(tag = '', bytes = 4): string {
  const name = `${testLabPrefix}${tag}${randomBytes(bytes).toString('hex')}`;
  claimTestName(name);
  return name;
}

/** Records `name` as this run's (see testName) for names the test builds itself. */
export function claimTestName(name: string): void {
  const dir = process.env.PODPATH_TEST_CLAIMS;
  if (dir) fs.writeFileSync(path.join(dir, name), '');
}

export interface TestLab {
  name: string;
  kubeconfig: string;
  kubectl: (args: string[], input?: string) => KubectlResult;
  /** kubectl that must succeed; returns stdout */
  ok: (args: string[], input?: string) => string;
  /**
   * GET an API path (with its query) as the lab's admin, the JSON it answers; throws on an error
   * status. For helpers that only read objects: curl costs a hundredth of a kubectl start.
   */
  get: (apiPath: string) => any;
  /** `podpath <args> --name LAB`, synchronously */
  podpath: (args: string[]) => KubectlResult;
  /** curl inside the lab (from 'client', 'node/NAME' or 'pod/NS/NAME'); returns stdout */
  curl: (from: string, url: string, extra?: string[]) => KubectlResult;
  /** a command inside the lab (`podpath exec`), from the same places as curl */
  exec: (from: string, argv: string[]) => KubectlResult;
  down: () => Promise<KubectlResult>;
  /** what to print when a lab test fails: pods, events and the tails of the lab's logs */
  diagnose: () => string;
}

/** The admin credentials of a kubeconfig `podpath up --kubeconfig` wrote: server, a CA file for curl, the token. */
const credentials = new Map<string, { server: string; caFile: string; token: string }>();

function apiGet(kubeconfig: string, apiPath: string): any {
  let c = credentials.get(kubeconfig);
  if (!c) {
    const cfg = loadConfig(kubeconfig);
    const caFile = path.join(path.dirname(kubeconfig), 'ca.crt');
    fs.writeFileSync(caFile, cfg.ca ?? '');
    credentials.set(kubeconfig, (c = { server: cfg.server, caFile, token: cfg.token ?? '' }));
  }
  const r = spawnSync('curl', ['-sS', '--cacert', c.caFile, '-H', `Authorization: Bearer ${c.token}`, '-w', '\n%{http_code}', `${c.server}${apiPath}`], { encoding: 'utf8', timeout: 30_000 });
  const nl = r.stdout.lastIndexOf('\n');
  const [body, code] = [r.stdout.slice(0, nl), r.stdout.slice(nl + 1)];
  if (r.status !== 0 || code !== '200') throw new Error(`GET ${apiPath}: ${code || r.stderr}\n${body}`);
  return JSON.parse(body);
}

function runPodpath(args: string[]): KubectlResult {
  const r = spawnSync(process.execPath, [podpathBin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Labs this test process started and has not taken down. Their daemons run in process groups of
 * their own, so when the runner ends a file that outlasted its time (with SIGTERM) they would
 * live on, loading the machine for the files after it: they are taken down first. */
const liveLabs = new Set<string>();
/** `podpath up` commands still building a lab: stopped before their labs are taken down */
const building = new Set<ChildProcess>();
let onTerm = false;

function takeDownOnTerm(name: string): void {
  if (!onTerm) {
    onTerm = true;
    process.once('SIGTERM', () => {
      for (const c of building) c.kill('SIGKILL');
      for (const n of liveLabs) spawnSync(process.execPath, [podpathBin, 'down', '--name', n], { stdio: 'ignore', timeout: 60_000 });
      process.exit(1);
    });
  }
  liveLabs.add(name);
}

/** `args`: more flags for `podpath up` (e.g. --no-dns, --no-netpol for a lab that needs neither). The Ingress controller only with `ingress`, the Gateway API only with `gateway`. */
export async function startLab(opts: { files?: string[]; nodes?: number; cniBackend?: 'host-gw' | 'vxlan' | 'bgp'; proxyMode?: 'iptables' | 'nftables' | 'userspace'; proxyConfig?: string; args?: string[]; ingress?: boolean; /** the Gateway API and its controller */ gateway?: boolean; /** a few letters after the prefix, naming the suite's labs */ tag?: string }): Promise<TestLab> {
  const name = testName(opts.tag);
  const kubeconfig = path.join(tempDir('lab'), 'kubeconfig');
  // With a kube-proxy configuration file and no mode, the file's mode is the lab's.
  const mode = opts.proxyMode ?? (opts.proxyConfig ? undefined : 'iptables');
  const args = ['up', '--name', name, '--kubeconfig', kubeconfig, '--nodes', String(opts.nodes ?? 1), '--cni-backend', opts.cniBackend ?? 'host-gw', ...(mode ? ['--proxy-mode', mode] : []), ...(opts.proxyConfig ? ['--proxy-config', opts.proxyConfig] : []), '--timeout', '90'];
  for (const f of opts.files ?? []) args.push('-f', f);
  args.push(...(opts.args ?? []));
  if (!opts.ingress) args.push('--no-ingress');
  if (!opts.gateway) args.push('--no-gateway');
  const kubectl = makeKubectl(kubeconfig);
  const lab: TestLab = {
    name,
    kubeconfig,
    kubectl,
    ok: (a, input) => {
      const r = kubectl(a, input);
      if (r.code !== 0) throw new Error(`kubectl ${a.join(' ')} failed (${r.code}):\n${r.stderr}`);
      return r.stdout;
    },
    get: (apiPath) => apiGet(kubeconfig, apiPath),
    // --name before a `--`, so it stays podpath's and not the command's after it (podpath ssh NODE -- CMD)
    podpath: (a) => {
      const i = a.indexOf('--');
      return runPodpath(i < 0 ? [...a, '--name', name] : [...a.slice(0, i), '--name', name, ...a.slice(i)]);
    },
    curl: (from, url, extra = []) => runPodpath(['curl', '--name', name, '--from', from, url, ...extra]),
    exec: (from, argv) => runPodpath(['exec', '--name', name, '--from', from, '--', ...argv]),
    down: async () => {
      const r = runPodpath(['down', '--name', name]);
      liveLabs.delete(name);
      return r;
    },
    diagnose: () => {
      const logs = labPaths(name).logs;
      const tails = fs.existsSync(logs) ? fs.readdirSync(logs).map((f) => `--- ${f}\n${fs.readFileSync(path.join(logs, f), 'utf8').split('\n').slice(-15).join('\n')}`) : [];
      return [kubectl(['get', 'pods', '-o', 'wide']).stdout, kubectl(['get', 'events']).stdout, ...tails].join('\n');
    },
  };
  takeDownOnTerm(name);
  const out = await new Promise<KubectlResult>((resolve) => {
    const child = spawn(process.execPath, [podpathBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    building.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => {
      building.delete(child);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
  if (out.code !== 0) {
    await lab.down();
    throw new Error(`podpath ${args.join(' ')} failed (${out.code}):\n${out.stdout}\n${out.stderr}`);
  }
  return lab;
}

/** Takes the lab down and checks that nothing of it is left: its namespaces, /etc/netns files,
 * state directory and every process its state names. */
export async function downAndGone(lab: TestLab): Promise<void> {
  const pids = Object.values(readState(lab.name)?.pids ?? {});
  const r = await lab.down();
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(listNetns().filter((n) => n.startsWith(`pp-${lab.name}-`)), []);
  assert.equal(fs.existsSync(labPaths(lab.name).dir), false);
  assert.deepEqual(fs.readdirSync('/etc/netns').filter((n) => n.startsWith(`pp-${lab.name}-`)), []);
  for (const pid of pids) assert.equal(alive(pid), false, `lab process ${pid} is gone`);
}

/** Runs `fn`; when it throws, adds the lab's diagnosis to the error. */
export async function explained<T>(lab: TestLab, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    (e as Error).message += `\n${lab.diagnose()}`;
    throw e;
  }
}

/** Pods of a label selector in the default namespace, as the API has them. */
export function pods(lab: TestLab, selector: string): { name: string; ip: string; node: string; ready: boolean; phase: string; deleting: boolean }[] {
  const list = lab.get(`/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(selector)}`) as { items: any[] };
  return list.items.map((p) => ({
    name: p.metadata.name,
    ip: p.status?.podIP ?? '',
    node: p.spec.nodeName ?? '',
    phase: p.status?.phase ?? '',
    deleting: Boolean(p.metadata.deletionTimestamp),
    ready: Boolean(p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')),
  }));
}

/** What the podpath/echo pods answered to `n` fresh connections to `url` from `from` (one curl, Connection: close). */
export function echoHits(lab: TestLab, from: string, url: string, n: number): { pod: string; client: string }[] {
  const r = lab.curl(from, url, ['-H', 'Connection: close', ...Array.from({ length: n - 1 }, () => url)]);
  if (r.code !== 0) throw new Error(`curl from ${from} failed (${r.code}): ${r.stderr}`);
  return [...r.stdout.matchAll(/\{[^}]*\}/g)].map((m) => JSON.parse(m[0]) as { pod: string; client: string });
}

export function serviceClusterIP(lab: TestLab, name: string): string {
  return lab.get(`/api/v1/namespaces/default/services/${name}`).spec.clusterIP as string;
}

/** A Deployment `udp` of podpath/echo answering UDP on 5300, behind the Service `udp` (53/UDP). */
export const udpEchoManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: udp}
spec:
  replicas: 1
  selector: {matchLabels: {app: udp}}
  template:
    metadata: {labels: {app: udp}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: echo
        image: podpath/echo
        args: [--udp-port, "5300"]
        ports: [{containerPort: 5300, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: udp}
spec:
  selector: {app: udp}
  ports: [{port: 53, targetPort: 5300, protocol: UDP}]
`;

/** The pod that answers one datagram to ip:53 sent from the first node, always from source port 40053 (one conntrack entry, one session). */
export function udpEchoFromNode(lab: TestLab, ip: string): string | undefined {
  return udpEcho(lab, 'node', ip, 53)?.pod;
}

/** One datagram from port 40053 of the lab's first node or its client to ip:port; the podpath/echo reply. */
export function udpEcho(lab: TestLab, from: 'node' | 'client', ip: string, port: number): { pod: string; client: string } | undefined {
  const st = readState(lab.name)!;
  const netns = from === 'node' ? st.nodes[0]!.netns : st.client;
  const script = `const s=require('dgram').createSocket('udp4');s.bind(40053,()=>{s.send('hi',${port},'${ip}');});s.on('message',m=>{console.log(String(m));process.exit(0)});setTimeout(()=>{console.log('timeout');process.exit(0)},1500);`;
  const r = spawnSync('nsenter', [`--net=/run/netns/${netns}`, process.execPath, '-e', script], { encoding: 'utf8', timeout: 10_000 });
  const out = r.stdout.trim();
  return out.startsWith('{') ? (JSON.parse(out) as { pod: string; client: string }) : undefined;
}

/** A node's kube-proxy pod (of the DaemonSet kube-system/kube-proxy) and its process, if it runs. */
export function kubeProxyPod(lab: TestLab, node: string): { name: string; pid?: number } | undefined {
  const list = lab.get('/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-proxy') as { items: any[] };
  const p = list.items.find((x) => x.spec.nodeName === node && !x.metadata.deletionTimestamp);
  if (!p) return undefined;
  // the node agent's container IDs end in the process's pid: podpath://<uid>-<container>-<pid>
  const id: string | undefined = p.status?.containerStatuses?.[0]?.containerID;
  const pid = id ? Number(/-(\d+)$/.exec(id)?.[1]) : undefined;
  return { name: p.metadata.name, ...(pid ? { pid } : {}) };
}

/** What a node's kube-proxy has logged (kubectl logs of its pod; '' while it has none). */
export function kubeProxyLog(lab: TestLab, node: string): string {
  const p = kubeProxyPod(lab, node);
  return p ? lab.kubectl(['logs', '-n', 'kube-system', p.name]).stdout : '';
}
