// Which node answers for each LoadBalancer IP on the underlay (MetalLB's layer-2 mode): a pure
// choice every node agent makes alike from the same Services, EndpointSlices and Nodes, so
// exactly one node holds each address. externalTrafficPolicy Local limits the choice to nodes
// with a ready endpoint of the Service. The speakers' liveness (memberlist.ts) narrows the
// candidates within seconds of a node's death, long before its Node turns NotReady.
import { createHash } from 'node:crypto';
import type { EndpointSlice, Node, Service } from '../api/types.ts';
import { hasTrueCondition } from '../api/conditions.ts';

export interface Announcement {
  ip: string;
  node: string;
}

/** How a node ranks for an address: the lowest rank answers. The same on every node, and spread over nodes per address. */
export function announceRank(node: string, ip: string): string {
  return createHash('sha256').update(`${node}#${ip}`).digest('hex');
}

/**
 * The node answering for each LoadBalancer IP. `live`: the nodes whose speakers are alive and
 * ready (the others are left out even while their Node is still Ready); absent, the Ready
 * condition alone decides (what an observer without the speakers' view, such as trace, sees).
 */
export function announcements(services: Service[], slices: EndpointSlice[], nodes: Node[], live?: ReadonlySet<string>): Announcement[] {
  const readyNodes = nodes.filter((n) => hasTrueCondition(n) && (!live || live.has(n.metadata.name!))).map((n) => n.metadata.name!);
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
      const ip = ing.ip;
      const node = [...candidates].sort((a, b) => (announceRank(a, ip) < announceRank(b, ip) ? -1 : 1))[0]!;
      out.push({ ip, node });
    }
  }
  return out;
}

export interface SpeakerPlan {
  /** addresses to add and announce with gratuitous ARP */
  claim: string[];
  /** addresses to drop */
  release: string[];
}

/**
 * What one speaker does next: drop what it is no longer chosen for, and claim what it is chosen
 * for only once no live peer says it still holds it — so when a node returns and the choice moves
 * back to it, the old holder lets go (and says so in its next heartbeat) before the new one
 * claims, and the two never hold an address at once. Should two live speakers both hold one
 * (their views of who is alive differed for a moment), the one of the worse rank lets go.
 */
export function speakerPlan(self: string, chosen: Announcement[], held: ReadonlySet<string>, peerHolders: ReadonlyMap<string, string[]>): SpeakerPlan {
  const mine = new Set(chosen.filter((a) => a.node === self).map((a) => a.ip));
  const release = [...held].filter((ip) => !mine.has(ip) || (peerHolders.get(ip) ?? []).some((p) => p !== self && announceRank(p, ip) < announceRank(self, ip)));
  const claim = [...mine].filter((ip) => !held.has(ip) && !(peerHolders.get(ip) ?? []).some((p) => p !== self));
  return { claim: claim.sort(), release: release.sort() };
}
