// Pod sandboxes, as a container runtime makes them for the kubelet (RunPodSandbox /
// StopPodSandbox): a network namespace per pod, the /etc/resolv.conf and /etc/hosts its
// processes see (bound by `ip netns exec`), and its interfaces from the node's CNI network. A
// host-network pod's sandbox is a second name for the node's own namespace (`ip netns attach`):
// no CNI, the node's addresses, but still its own resolv.conf and hosts.
import fs from 'node:fs';
import type { Pod } from '../api/types.ts';
import type { Executor } from '../exec/exec.ts';
import { makeNetnsEtcDir, netnsAdd, netnsAttach, netnsDel, netnsExists, writeNetnsEtc } from '../exec/netns.ts';
import { cniAdd, cniDel, loopbackConf, nodeConfList, type NetConfList } from './cni.ts';
import { podResolvConf } from './dns.ts';

/** The namespace operations a sandbox needs; hostNetns() is the real thing. */
export interface NetnsOps {
  add(name: string): void;
  /** names the namespace this process (the node agent) runs in: the node's */
  attachOwn(name: string): void;
  del(name: string): void;
  exists(name: string): boolean;
  /** a file `ip netns exec` binds over /etc/<file> for the namespace's processes */
  writeEtc(name: string, file: 'resolv.conf' | 'hosts', content: string): void;
  /** a directory `ip netns exec` binds over /etc/<dir> (the image's own, e.g. nginx) */
  etcDir(name: string, dir: string): void;
}

export function hostNetns(ex: Executor): NetnsOps {
  return {
    add: (name) => netnsAdd(name, ex),
    attachOwn: (name) => netnsAttach(name, process.pid, ex),
    del: (name) => netnsDel(name, ex),
    exists: netnsExists,
    writeEtc: writeNetnsEtc,
    etcDir: makeNetnsEtcDir,
  };
}

/** A pod's network namespace name: the prefix and the first 8 hex digits of its UID. */
export function sandboxName(prefix: string, uid: string): string {
  return `${prefix}${uid.replace(/-/g, '').slice(0, 8)}`;
}

/** The kubelet-managed /etc/hosts of a pod: localhost, the pod's own names, its hostAliases. */
export function podHostsFile(pod: Pod, podIP: string | undefined, clusterDomain: string): string {
  const hostname = pod.spec.hostname ?? pod.metadata.name!;
  const fqdn = pod.spec.subdomain ? `${hostname}.${pod.spec.subdomain}.${pod.metadata.namespace}.svc.${clusterDomain}` : '';
  const lines = [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
    `${podIP}\t${fqdn ? `${fqdn}\t` : ''}${hostname}`,
    ...(pod.spec.hostAliases ?? []).map((a) => `${a.ip}\t${(a.hostnames ?? []).join('\t')}`),
  ];
  return lines.join('\n') + '\n';
}

/** The kubelet-managed /etc/hosts of a host-network pod: the node's own, and the pod's hostAliases. */
export function hostNetworkHostsFile(pod: Pod, nodeHosts: string): string {
  const aliases = (pod.spec.hostAliases ?? []).map((a) => `${a.ip}\t${(a.hostnames ?? []).join('\t')}`);
  return ['# Kubernetes-managed hosts file (host network).', nodeHosts.replace(/\n$/, ''), ...(aliases.length ? ['', '# Entries added by HostAliases.', ...aliases] : [])].join('\n') + '\n';
}

export interface SandboxOptions {
  /** network namespace names of pods start with this */
  podNetnsPrefix: string;
  /** the kubelet's --cluster-dns, comma-separated */
  clusterDNS: string;
  clusterDomain: string;
  /** the node's resolv.conf (kubelet --resolv-conf) */
  resolvConf?: string;
  /** host-local IPAM's directory */
  ipamDir: string;
  /** the node's address: a host-network pod's */
  nodeIP: string;
  /** where the node's network configuration list is written for inspection */
  confListFile: string;
  log: (s: string) => void;
}

export interface Sandbox {
  netns: string;
  podIP?: string;
  /** the node's own namespace under the pod's name */
  hostNetwork?: boolean;
}

export class SandboxManager {
  private conf: NetConfList | undefined;

  constructor(
    private readonly o: SandboxOptions,
    private readonly ex: Executor,
    private readonly netns: NetnsOps = hostNetns(ex),
  ) {}

  /** Whether the node has a pod CIDR yet (no sandbox can be made before). */
  get ready(): boolean {
    return this.conf !== undefined;
  }

  /** The node's pod network: a bridge over its pod CIDR (with the MTU an overlay leaves). */
  setPodCIDR(podCIDR: string, mtu: number | undefined): void {
    this.conf = nodeConfList(podCIDR, this.o.ipamDir, mtu);
    fs.writeFileSync(this.o.confListFile, `${JSON.stringify(this.conf, null, 2)}\n`);
  }

  /** RunPodSandbox: the namespace, its resolv.conf, loopback and the pod network (eth0), its hosts. */
  async create(pod: Pod): Promise<Sandbox> {
    const uid = pod.metadata.uid!;
    const netns = sandboxName(this.o.podNetnsPrefix, uid);
    const hostNetwork = Boolean(pod.spec.hostNetwork);
    if (hostNetwork) this.netns.attachOwn(netns);
    else this.netns.add(netns);
    const ns = pod.metadata.namespace!;
    const dns = podResolvConf(pod, { clusterDNS: this.o.clusterDNS ? this.o.clusterDNS.split(',') : [], clusterDomain: this.o.clusterDomain, hostResolvConf: readMaybe(this.o.resolvConf ?? '/etc/resolv.conf') });
    for (const w of dns.warnings) this.o.log(`pod ${ns}/${pod.metadata.name}: ${w.reason}: ${w.message}`);
    this.netns.writeEtc(netns, 'resolv.conf', dns.text);
    if (hostNetwork) {
      this.netns.writeEtc(netns, 'hosts', hostNetworkHostsFile(pod, readMaybe('/etc/hosts')));
      return { netns, podIP: this.o.nodeIP, hostNetwork };
    }
    const inv = { containerId: uid, netns: `/run/netns/${netns}`, ifname: 'eth0', args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: ns, K8S_POD_NAME: pod.metadata.name!, K8S_POD_UID: uid } };
    await cniAdd(loopbackConf, { ...inv, ifname: 'lo' }, this.ex);
    const result = await cniAdd(this.conf!, inv, this.ex);
    const podIP = result.ips?.[0]?.address.split('/')[0];
    this.netns.writeEtc(netns, 'hosts', podHostsFile(pod, podIP, this.o.clusterDomain));
    return { netns, ...(podIP ? { podIP } : {}) };
  }

  /** The directories of /etc a container's image brings (podpath has no image filesystem: each is the pod's own, bound over the host's). */
  imageEtcDirs(netns: string, dirs: string[]): void {
    for (const d of dirs) this.netns.etcDir(netns, d);
  }

  /** StopPodSandbox and RemovePodSandbox: CNI DEL (releasing the address), then the namespace. */
  async remove(pod: { uid: string; name: string; netns: string; hostNetwork?: boolean }): Promise<void> {
    // A host-network sandbox is the node's namespace: only its second name goes, never its eth0.
    if (!pod.hostNetwork && this.conf && this.netns.exists(pod.netns)) {
      await cniDel(this.conf, { containerId: pod.uid, netns: `/run/netns/${pod.netns}`, ifname: 'eth0' }, this.ex).catch((e) => this.o.log(`CNI DEL ${pod.name}: ${(e as Error).message}`));
    }
    this.netns.del(pod.netns);
  }
}

function readMaybe(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
