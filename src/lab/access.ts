// Reaching a running lab from the host: choosing the lab, an API client through its 127.0.0.1
// tunnel, the network namespace a `--from` names, and running a user's command there.
import fs from 'node:fs';
import type { Pod } from '../api/types.ts';
import { sandboxName } from '../agent/sandbox.ts';
import { Client, loadConfig, objectPath } from '../client/client.ts';
import { defaultExecutor, execAttached, type Executor } from '../exec/exec.ts';
import { netnsEtcDir } from '../exec/netns.ts';
import { proxyMetricsAddress, tunnelHost } from './defaults.ts';
import { labPaths, listLabs, readState, type LabNode, type LabState } from './lab.ts';

/** The lab named, or the only one running. */
export function pickLab(name: string | undefined): LabState {
  if (name) {
    const s = readState(name);
    if (!s) throw new Error(`no lab named ${name} (podpath status lists the labs)`);
    return s;
  }
  const labs = listLabs();
  if (labs.length === 0) throw new Error('no lab is running (start one with podpath up)');
  if (labs.length > 1) throw new Error(`several labs are running (${labs.join(', ')}); choose one with --name`);
  return readState(labs[0]!)!;
}

/** The lab's admin client, through the host's tunnel to its API server. */
export function labClient(s: LabState): Client {
  const admin = loadConfig(labPaths(s.name).adminKubeconfig, 'podpath');
  return new Client({ ...admin, server: `https://${tunnelHost}:${s.apiPort}` });
}

/** A node of the lab by name, or the first. */
export function labNode(s: LabState, name: string | undefined): LabNode {
  const n = name ? s.nodes.find((x) => x.name === name) : s.nodes[0];
  if (!n) throw new Error(`no node ${name} in lab ${s.name} (nodes: ${s.nodes.map((x) => x.name).join(', ')})`);
  return n;
}

/** The network namespace `--from` names: client, node/NAME or pod/NS/NAME. */
export async function namespaceOf(s: LabState, from: string): Promise<string> {
  if (from === 'client') return s.client;
  const m = /^node\/(.+)$/.exec(from);
  if (m) return labNode(s, m[1]).netns;
  const pm = /^pod\/([^/]+)\/(.+)$/.exec(from);
  if (!pm) throw new Error(`--from must be client, node/NAME or pod/NAMESPACE/NAME, not ${from}`);
  const client = labClient(s);
  try {
    const pod = await client.get<Pod>(objectPath('v1', 'pods', pm[1], pm[2]!));
    return sandboxName(s.podNetnsPrefix, pod.metadata.uid!);
  } finally {
    client.close();
  }
}

/** Runs a command in a lab namespace as its processes see the world (a pod's resolv.conf and hosts too), attached to the terminal; its exit code. */
export async function runIn(name: string | undefined, from: string, argv: string[]): Promise<number> {
  const s = pickLab(name);
  const ns = await namespaceOf(s, from);
  return execAttached(argv, { netns: ns, netnsEtc: true });
}

/**
 * How a node shell is prepared, in a mount namespace of its own (nothing is mounted on the host):
 * the node's /etc — the node's own files (cni/net.d, where its agent writes the CNI
 * configuration) over the host's, read-only, and again the files `ip netns exec` binds (resolv.conf) — and
 * BIRD's directory of the node as /run/bird, where `birdc` looks for its socket. Arguments: the
 * hostname, the node's etc, the namespace's /etc/netns directory, BIRD's directory, the command.
 */
const nodeShellPrelude = [
  'host="$0" etc="$1" nsetc="$2" bird="$3"; shift 3',
  'if [ -d "$etc" ] && mount -t overlay podpath-node-etc -o "lowerdir=$etc:/etc" /etc; then',
  '  for f in "$nsetc"/*; do [ -e "/etc/${f##*/}" ] && mount --bind "$f" "/etc/${f##*/}"; done',
  'fi',
  '[ -S "$bird/bird.ctl" ] && mkdir -p /run/bird && mount --bind "$bird" /run/bird',
  'hostname "$host" && cd && exec "$@"',
].join('\n');

/**
 * `podpath ssh`: a node as `minikube ssh` gives it — a login shell (or `argv`) in the node's
 * network namespace, with the node's /etc/resolv.conf and its name as the hostname (a UTS
 * namespace of its own), attached to this terminal (so with a TTY when stdin is one), where
 * iptables, nft, ipvsadm, conntrack, tcpdump, ip and ss see that node. One argument with spaces
 * is a shell command line (`podpath ssh -- 'iptables-save | grep KUBE'`). Its exit code.
 */
export function sshNode(name: string | undefined, node: string | undefined, argv: string[]): number {
  const s = pickLab(name);
  const n = labNode(s, node);
  const cmd = argv.length === 0 ? ['bash', '-l'] : argv.length === 1 && /\s/.test(argv[0]!) ? ['sh', '-c', argv[0]!] : argv;
  const env = { ...process.env, HOSTNAME: n.name };
  const p = labPaths(s.name);
  return execAttached(['unshare', '--uts', '--mount', '--', 'sh', '-c', nodeShellPrelude, n.name, p.nodeEtc(n.name), netnsEtcDir(n.netns), p.nodeBird(n.name), ...cmd], { netns: n.netns, netnsEtc: true, env });
}

/**
 * curl in a lab namespace (`podpath curl`): quiet but for errors, at most 10 s, trusting the lab
 * CA (which signs Ingress certificates; the lab has no way out, so no other CA is needed). A
 * --cacert among `args` comes later and wins.
 */
export function curlIn(name: string | undefined, from: string, args: string[]): Promise<number> {
  return runIn(name, from, ['curl', '-sS', '--max-time', '10', ...curlTrust(pickLab(name)), ...args]);
}

/** curl's flags to trust the lab's CA, when the lab has one. */
export function curlTrust(s: LabState): string[] {
  const ca = labPaths(s.name).labCACert;
  return fs.existsSync(ca) ? ['--cacert', ca] : [];
}

/** A node's IPVS table as its kube-proxy reports it (`?stats` or `?connections` for those views). */
export function proxyIpvsTable(name: string | undefined, node: string | undefined, view: '' | '?stats' | '?connections', ex: Executor = defaultExecutor): string {
  const n = labNode(pickLab(name), node);
  const r = ex.exec(['curl', '-sSf', '--max-time', '5', `http://${proxyMetricsAddress}/ipvsadm${view}`], { netns: n.netns });
  if (r.status !== 0) throw new Error(`kube-proxy on ${n.name} did not answer (${(r.stderr || '').trim() || `exit ${r.status}`}); is the lab's --proxy-mode none?`);
  return r.stdout;
}
