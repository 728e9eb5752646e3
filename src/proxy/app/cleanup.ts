// What kube-proxy removes when it starts (upstream's platformCleanup): the rules other modes left
// on the node, so a mode switched through the ConfigMap (and the pods deleted) leaves only the
// new mode's rules. Every mode but nftables removes the nftables `kube-proxy` tables; the modes
// that are not iptables-based (nftables, userspace) remove iptables mode's chains. Modes that do not hold
// Service addresses on kube-ipvs0 (iptables, nftables) remove the device and the userspace
// mode's `ip podpath-userspace` table.
import { succeeds, type Executor } from '../../exec/exec.ts';
import { Iptables } from '../../iptables/index.ts';
import type { ProxyMode } from '../config.ts';
import { cleanupIptablesLeftovers } from '../iptables/cleanup.ts';
import { transparentTable } from '../userspace/transparent.ts';
import { dummyDevice } from '../virtualserver.ts';

/** Removes the other modes' leftovers; what it removed, for the log. */
export function cleanupLeftovers(mode: ProxyMode, ex: Executor): string[] {
  const done: string[] = [];
  const iptablesBased = mode === 'iptables' || mode === 'ipvs';
  const nftTable = (family: string, name: string) => {
    if (succeeds(['nft', 'list', 'table', family, name], {}, ex) && succeeds(['nft', 'delete', 'table', family, name], {}, ex)) done.push(`nftables table ${family} ${name}`);
  };
  if (mode !== 'nftables') {
    nftTable('ip', 'kube-proxy');
    nftTable('ip6', 'kube-proxy');
  }
  if (!iptablesBased) {
    try {
      if (cleanupIptablesLeftovers(new Iptables({ executor: ex }))) done.push('iptables chains');
    } catch {
      // no iptables on this machine: nothing was left by it
    }
  }
  if (mode !== 'userspace' && mode !== 'ipvs') {
    nftTable('ip', transparentTable);
    if (succeeds(['ip', 'link', 'show', dummyDevice], {}, ex) && succeeds(['ip', 'link', 'del', dummyDevice], {}, ex)) done.push(`${dummyDevice}`);
  } else if (mode === 'ipvs') nftTable('ip', transparentTable);
  return done;
}
