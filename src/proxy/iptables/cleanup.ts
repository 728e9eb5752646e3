// iptables mode's leftovers (upstream's iptables.CleanupLeftovers), removed when kube-proxy
// starts in a mode that is not iptables-based (nftables, userspace): the jumps from the built-in
// chains, then kube-proxy's own chains flushed and deleted — nat's KUBE-SERVICES,
// KUBE-NODEPORTS, KUBE-POSTROUTING and every per-service chain, filter's KUBE-SERVICES,
// KUBE-EXTERNAL-SERVICES, KUBE-FORWARD, KUBE-NODEPORTS, KUBE-PROXY-FIREWALL and KUBE-FIREWALL —
// in one `iptables-restore --noflush`. KUBE-MARK-MASQ and the canary chains stay, as upstream's.
import { parseRuleSpec, userChain, type IptablesInterface, type Table, type TableName } from '../../iptables/index.ts';

const natChains = ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING'];
const filterChains = ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL', 'KUBE-FIREWALL'];
/** upstream's isServiceChainName */
const serviceChain = /^KUBE-(SVC|SVL|EXT|FW|SEP)-/;

/** What to restore to remove the leftovers from the saved tables (none when there are none). */
export function iptablesLeftovers(saved: Table[]): Table[] {
  const out: Table[] = [];
  for (const t of saved) {
    if (t.name !== 'nat' && t.name !== 'filter') continue;
    const present = new Set(t.chains.map((c) => c.name));
    const own = t.name === 'nat' ? natChains : filterChains;
    const remove = [...present].filter((c) => own.includes(c) || (t.name === 'nat' && serviceChain.test(c)));
    if (!remove.length) continue;
    const gone = new Set(remove);
    const table: Table = { name: t.name as TableName, chains: remove.map(userChain), ops: [] };
    // Rules elsewhere that jump to a chain that goes are deleted first (the jumps kube-proxy put in the built-in chains).
    for (const o of t.ops) {
      if (o.op !== 'append' || gone.has(o.rule.chain)) continue;
      const spec = parseRuleSpec(o.rule.args);
      if ((spec.target && gone.has(spec.target.name)) || (spec.goto !== undefined && gone.has(spec.goto))) table.ops.push({ op: 'delete', rule: { chain: o.rule.chain, args: [...o.rule.args] } });
    }
    for (const c of remove) table.ops.push({ op: 'deleteChain', chain: c });
    out.push(table);
  }
  return out;
}

/** Removes iptables mode's leftovers; whether there were any. */
export function cleanupIptablesLeftovers(ipt: IptablesInterface): boolean {
  const tables = iptablesLeftovers([ipt.save('nat'), ipt.save('filter')]);
  if (tables.length) ipt.restore(tables, { noflush: true });
  return tables.length > 0;
}
