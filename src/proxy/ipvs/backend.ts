// IPVS mode, live: every sync is full — kube-ipvs0's addresses, upstream's sysctls, the ipsets
// swapped in whole, the nat and filter rules restored beside them, and the IPVS table edited in
// place so existing connections keep their real servers.
import fs from 'node:fs';
import { defaultExecutor, type Executor } from '../../exec/exec.ts';
import { allServicePorts, type Backend, type SyncRequest, type SyncResult } from '../backend.ts';
import { defaultScheduler, type ProxyFlags } from '../config.ts';
import { realDummy, type DummyShell } from '../dummydevice.ts';
import { liveNodePortIPs } from '../nodeaddresses.ts';
import { dummyAddresses, dummyDevice, virtualServers } from '../virtualserver.ts';
import { parseIpvsadmList, planIpvsTable, ipsetSwapScript } from './plan.ts';
import { ipsetSave, ipvsIptablesRules, ipvsJumpRules, ipvsSets } from './render.ts';
import { realIpvs, type IpvsShell } from './shell.ts';

/**
 * IPVS mode as upstream programs it: Service addresses on kube-ipvs0, the IPVS table edited in
 * place, the ipsets swapped in whole, and the nat rules beside them (iptables-restore --noflush).
 */
export class IpvsBackend implements Backend {
  readonly mode = 'ipvs' as const;
  constructor(
    private readonly flags: ProxyFlags,
    private readonly shell: IpvsShell = realIpvs(),
    private readonly dummy: DummyShell = realDummy(),
    /** runs `ip addr` when --nodeport-addresses names CIDRs */
    private readonly ex: Executor = defaultExecutor,
  ) {}

  sync(req: SyncRequest): SyncResult {
    const ports = allServicePorts(req.byService);
    const nodePortIPs = liveNodePortIPs('ipvs', this.flags, req.nodeIP, this.ex) ?? (req.nodeIP ? [req.nodeIP] : []);
    const vss = virtualServers(ports, { scheduler: defaultScheduler(this.flags), nodePortIPs, mode: 'ipvs' });
    this.dummy.ensure(this.flags.strictARP ?? false);
    // Upstream's sysctls for IPVS with conntrack (proxier.go).
    for (const [k, v] of [['net.ipv4.vs.conntrack', '1'], ['net.ipv4.vs.expire_nodest_conn', '1'], ['net.ipv4.vs.expire_quiescent_template', '1'], ['net.ipv4.ip_forward', '1']]) this.shell.sysctl(k!, v!);
    const nodeAddresses = new Set(this.dummy.nodeAddresses());
    const want = new Set(dummyAddresses(ports, nodeAddresses));
    const have = new Set(this.dummy.list());
    for (const ip of want) if (!have.has(ip)) this.dummy.add(ip);
    const sets = ipvsSets(ports, { nodePortIPs, nodeAddresses, ...(req.nodeIP ? { nodeIP: req.nodeIP } : {}) });
    this.shell.ipsetRestore(ipsetSwapScript(ipsetSave(sets)));
    this.shell.iptables.restore(ipvsIptablesRules(sets, { ...(this.flags.clusterCIDR ? { clusterCIDR: this.flags.clusterCIDR } : {}), masqueradeAll: this.flags.masqueradeAll, masqueradeBit: this.flags.masqueradeBit }), { noflush: true, counters: true });
    for (const j of ipvsJumpRules) this.shell.iptables.ensureRule('prepend', j.table, j.chain, j.args);
    const edits = planIpvsTable(this.shell.save(), vss, parseIpvsadmList(this.shell.list()));
    this.shell.restore(edits);
    // Addresses go last: a virtual server is removed before its address is.
    for (const ip of have) if (!want.has(ip)) this.dummy.del(ip);
    return { full: true, summary: `${vss.length} virtual servers, ${edits.length} table edits, ${want.size} addresses on ${dummyDevice}` };
  }

  intact(): boolean {
    return this.dummy.exists() && this.shell.iptables.hasChain('nat', 'KUBE-SERVICES');
  }

  pendingCleanup(): boolean {
    return false;
  }
}

/** IPVS mode needs the kernel's IP Virtual Server; the message says what is missing and what works instead. */
export function ipvsMissing(procFile = '/proc/net/ip_vs'): string | undefined {
  if (fs.existsSync(procFile)) return undefined;
  return `IPVS: this kernel has no IP Virtual Server support (${procFile} is missing: the ip_vs module is not loaded, or not built). Load it with \`modprobe ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh\` where the kernel has it, or use --proxy-mode iptables, nftables or userspace, which work here (\`podpath proxy render --mode ipvs\` still shows what IPVS mode would program)`;
}
