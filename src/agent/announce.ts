// Which node answers for each LoadBalancer IP on the underlay (MetalLB's layer-2 mode): a pure
// choice every node agent makes alike from the same Services, EndpointSlices and Nodes, so
// exactly one node holds each address. externalTrafficPolicy Local limits the choice to nodes
// with a ready endpoint of the Service.
import { createHash } from 'node:crypto';
import type { EndpointSlice, Node, Service } from '../api/types.ts';
import { hasTrueCondition } from '../api/conditions.ts';

export interface Announcement {
  ip: string;
  node: string;
}

export function announcements(services: Service[], slices: EndpointSlice[], nodes: Node[]): Announcement[] {
  const readyNodes = nodes.filter((n) => hasTrueCondition(n)).map((n) => n.metadata.name!);
  const out: Announcement[] = [];
  for (const svc of services) {
    if (svc.spec?.type !== 'LoadBalancer') continue;
    let candidates = readyNodes;
    if (svc.spec.externalTrafficPolicy === 'Local') {
      const withEndpoints = new Set(
        slices
          .filter((s) => s.metadata.namespace === svc.metadata.namespace && s.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name)
          .flatMap((s) => s.endpoints ?? [])
          .filter((e) => e.conditions?.ready !== false && e.nodeName)
          .map((e) => e.nodeName!),
      );
      candidates = readyNodes.filter((n) => withEndpoints.has(n));
    }
    for (const ing of svc.status?.loadBalancer?.ingress ?? []) {
      if (!ing.ip || candidates.length === 0) continue;
      // Spread addresses over nodes, the same way on every node.
      const rank = (n: string) => createHash('sha256').update(`${n}#${ing.ip}`).digest('hex');
      const node = [...candidates].sort((a, b) => (rank(a) < rank(b) ? -1 : 1))[0]!;
      out.push({ ip: ing.ip, node });
    }
  }
  return out;
}
