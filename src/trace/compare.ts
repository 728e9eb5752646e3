// The computed trace beside the observed path (`podpath trace --observe`): which computed hops
// the kernel reported, which observed hops were computed, and every difference in words. Pure.
import { tupleText, type Observation, type RuleRef, type Trace } from './types.ts';

const key = (node: string | undefined, r: Pick<RuleRef, 'table' | 'chain' | 'text'>) => `${node ?? ''}\u0000${r.table}\u0000${r.chain}\u0000${r.text}`;

/**
 * The computed trace beside the observed path: each computed hop of the request that can be
 * observed (netfilter rules, conntrack NAT, delivery) marked seen or not, each observed hop
 * named by the computed step it is, and the differences in words. The trace's `endpoint` becomes
 * the observed one.
 */
export function compareObserved(t: Trace, o: Omit<Observation, 'differences'>): Trace {
  const differences: string[] = [];
  const hops = t.hops.map((h) => ({ ...h }));
  const obs = o.hops.map((h) => ({ ...h }));
  const firstReply = hops.findIndex((h) => h.kind === 'reply');
  const request = firstReply < 0 ? hops : hops.slice(0, firstReply);
  let from = 0;
  const nf = obs.filter((h) => h.kind === 'netfilter');
  for (const h of request) {
    if (h.kind === 'netfilter' && h.rule) {
      const k = key(h.node, h.rule);
      const i = nf.findIndex((x, j) => j >= from && x.computed === undefined && key(x.node, x.rule!) === k);
      h.observed = i >= 0;
      if (i >= 0) {
        nf[i]!.computed = h.step;
        from = i + 1;
      } else differences.push(`computed step ${h.step} was not seen: [node ${h.node}] ${h.rule.table} ${h.rule.chain}: ${h.rule.text}`);
    } else if (h.kind === 'conntrack') {
      const c = obs.find((x) => x.kind === 'conntrack' && x.node === h.node && x.computed === undefined);
      // a MASQUERADE's source port is the kernel's pick: the rest of the tuple must agree
      const same = c !== undefined && c.packet.after.src === h.packet.after.src && c.packet.after.dst === h.packet.after.dst && c.packet.after.dstPort === h.packet.after.dstPort;
      h.observed = same;
      if (c && same) c.computed = h.step;
      else differences.push(c ? `computed step ${h.step} (conntrack at node ${h.node}) translates to ${tupleText(h.packet.after)}, the kernel to ${tupleText(c.packet.after)}` : `computed step ${h.step} (conntrack at node ${h.node}): no such new connection was reported`);
    } else if (h.kind === 'proxy' || ((h.kind === 'ingress' || h.kind === 'gateway') && h.packet.rewritten.length)) {
      const x = obs.find((y) => y.kind === h.kind && (y.node ?? y.namespace) === (h.node ?? h.namespace) && y.computed === undefined);
      h.observed = x !== undefined && x.packet.after.dst === h.packet.after.dst && x.packet.after.dstPort === h.packet.after.dstPort;
      if (h.observed) x!.computed = h.step;
      else {
        const who = h.kind === 'proxy' ? `the proxy on node ${h.node}` : `the Ingress controller ${h.namespace}`;
        differences.push(x ? `computed step ${h.step} (${who}) connects to ${h.packet.after.dst}:${h.packet.after.dstPort}, it connected to ${x.packet.after.dst}:${x.packet.after.dstPort}` : `computed step ${h.step} (${who}): no connection onward was seen`);
      }
    } else if (h.kind === 'deliver') {
      const pod = h.object?.kind === 'Pod' ? `${h.object.namespace}/${h.object.name}` : undefined;
      // the endpoint reached, or a pod the request went on from (an Ingress controller)
      const d = obs.find((x) => x.kind === 'deliver' && o.endpoint?.pod === pod);
      h.observed = pod !== undefined && (d !== undefined || obs.some((x) => x.kind === 'ingress' && x.namespace === `pod/${pod}`));
      if (d && h.observed) d.computed = h.step;
    }
  }
  for (const x of nf) if (x.computed === undefined) differences.push(`seen, not computed: [${x.node ? `node ${x.node}` : x.namespace}] ${x.rule!.table} ${x.rule!.chain}: ${x.rule!.text}`);
  if (o.verdict !== t.verdict) differences.push(`computed verdict ${t.verdict}, observed ${o.verdict}: ${o.reason}`);
  if (t.endpoint && o.endpoint && t.endpoint.pod !== o.endpoint.pod) differences.push(`computed endpoint ${t.endpoint.pod} ${t.endpoint.ip}:${t.endpoint.port}, the kernel chose ${o.endpoint.pod} ${o.endpoint.ip}:${o.endpoint.port}`);
  // the endpoint is the one the kernel chose (none when it reached no pod)
  const { endpoint: _computed, ...rest } = t;
  return { ...rest, hops, ...(o.endpoint ? { endpoint: o.endpoint } : {}), observed: { ...o, hops: obs, differences } };
}

