// What a Service holds of the cluster's shared ranges (ClusterIPs, NodePorts, the
// healthCheckNodePort), and the transactions that reserve and release them on writes.
// Allocations are not stored: they are rebuilt from the stored Services at start-up.
import { errors, field, GoRepr, Path, type FieldError } from '../api/errors.ts';
import type { Service } from '../api/types.ts';
import { familyOf } from '../util/ip.ts';
import { validateClusterIPsRelated } from '../api/validation/core.ts';
import { AllocationError, ClusterIPAllocator, PortAllocator } from './allocators.ts';

export interface Txn {
  commit(): void;
  revert(): void;
}

interface Held {
  ips: string[];
  ports: number[];
}

export function needsClusterIP(svc: Service): boolean {
  return svc.spec.type !== 'ExternalName' && svc.spec.clusterIP !== 'None' && svc.spec.clusterIPs?.[0] !== 'None';
}

export function needsNodePorts(svc: Service): boolean {
  return svc.spec.type === 'NodePort' || (svc.spec.type === 'LoadBalancer' && svc.spec.allocateLoadBalancerNodePorts !== false);
}

export function needsHealthCheckNodePort(svc: Service): boolean {
  return svc.spec.type === 'LoadBalancer' && svc.spec.externalTrafficPolicy === 'Local';
}

function heldBy(svc: Service | undefined): Held {
  if (!svc) return { ips: [], ports: [] };
  const ips = needsClusterIP(svc) ? (svc.spec.clusterIPs ?? (svc.spec.clusterIP ? [svc.spec.clusterIP] : [])).filter((ip) => ip && ip !== 'None') : [];
  const ports = new Set<number>();
  for (const p of svc.spec.ports ?? []) if (p.nodePort) ports.add(p.nodePort);
  if (svc.spec.healthCheckNodePort) ports.add(svc.spec.healthCheckNodePort);
  return { ips, ports: [...ports] };
}

function invalid(svc: Service, errs: FieldError[]) {
  return errors.invalid('', 'Service', svc.metadata.name ?? '', errs);
}

export class ServiceAllocations {
  constructor(
    readonly ips: ClusterIPAllocator,
    readonly nodePorts: PortAllocator,
  ) {}

  /** Re-marks what stored Services hold; returns the Services whose values no longer fit. */
  rebuild(services: Service[]): string[] {
    const problems: string[] = [];
    for (const svc of services) {
      const h = heldBy(svc);
      for (const ip of h.ips) {
        try {
          this.ips.allocate(ip);
        } catch (e) {
          problems.push(`${svc.metadata.namespace}/${svc.metadata.name}: ClusterIP ${ip}: ${(e as Error).message}`);
        }
      }
      for (const p of h.ports) {
        try {
          this.nodePorts.allocate(p);
        } catch (e) {
          problems.push(`${svc.metadata.namespace}/${svc.metadata.name}: port ${p}: ${(e as Error).message}`);
        }
      }
    }
    return problems;
  }

  /** Sets the IP family fields as upstream's initIPFamilyFields does for a single-stack cluster. */
  initIPFamilies(svc: Service, old: Service | undefined): void {
    const s = svc.spec;
    if (s.type === 'ExternalName') return;
    const early = validateClusterIPsRelated(svc);
    if (early.length) throw invalid(svc, early);
    const clusterFamily = this.ips.cidr.family === 4 ? 'IPv4' : 'IPv6';
    if (s.ipFamilyPolicy === undefined) {
      if (old?.spec.ipFamilyPolicy) s.ipFamilyPolicy = old.spec.ipFamilyPolicy;
      else if (s.clusterIP === 'None' && Object.keys(s.selector ?? {}).length === 0) s.ipFamilyPolicy = 'RequireDualStack';
      else s.ipFamilyPolicy = 'SingleStack';
    }
    const errs: FieldError[] = [];
    if (s.ipFamilyPolicy === 'SingleStack') {
      if ((s.clusterIPs?.length ?? 0) === 2) errs.push(field.invalid(Path.root('spec', 'ipFamilyPolicy'), s.ipFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"));
      if ((s.ipFamilies?.length ?? 0) === 2) errs.push(field.invalid(Path.root('spec', 'ipFamilyPolicy'), s.ipFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"));
    }
    const families = s.ipFamilies ?? [];
    (s.clusterIPs ?? []).forEach((ip, i) => {
      if (ip === 'None') return;
      const fam = familyOf(ip) === 6 ? 'IPv6' : 'IPv4';
      if (i >= families.length) {
        if (fam !== clusterFamily) errs.push(field.invalid(Path.root('spec', 'clusterIPs').index(i), s.clusterIPs, `${fam} is not configured on this cluster`));
        else families.push(fam);
      }
    });
    if (errs.length) throw invalid(svc, errs);
    if (s.clusterIP === 'None' && Object.keys(s.selector ?? {}).length === 0) {
      if (families.length === 0) families.push(clusterFamily);
      if (families.length < 2 && s.ipFamilyPolicy !== 'SingleStack') families.push(families[0] === 'IPv4' ? 'IPv6' : 'IPv4');
      s.ipFamilies = families;
      return;
    }
    if (s.ipFamilyPolicy === 'RequireDualStack') {
      errs.push(field.invalid(Path.root('spec', 'ipFamilyPolicy'), s.ipFamilyPolicy, 'this cluster is not configured for dual-stack services'));
    }
    families.forEach((f, i) => {
      if (f !== clusterFamily) errs.push(field.invalid(Path.root('spec', 'ipFamilies').index(i), f, 'not configured on this cluster'));
    });
    if (errs.length) throw invalid(svc, errs);
    if (families.length === 0) families.push(clusterFamily);
    s.ipFamilies = families;
  }

  /**
   * Fills in and reserves everything `svc` needs beyond what `old` holds. Throws a 422 naming
   * the field on a value that is taken or outside its range; nothing stays reserved then.
   */
  reserve(svc: Service, old?: Service): Txn {
    const held = heldBy(old);
    const taken: (() => void)[] = [];
    const revert = () => taken.forEach((undo) => undo());
    const s = svc.spec;
    try {
      if (needsClusterIP(svc)) {
        if (s.clusterIP) {
          if (!held.ips.includes(s.clusterIP)) {
            try {
              this.ips.allocate(s.clusterIP);
            } catch (e) {
              if (!(e instanceof AllocationError)) throw e;
              const ips = s.clusterIPs?.length ? s.clusterIPs : [s.clusterIP];
              throw invalid(svc, [field.invalid(Path.root('spec', 'clusterIPs'), new GoRepr(`[]string{${ips.map((ip) => JSON.stringify(ip)).join(', ')}}`), `failed to allocate IP ${s.clusterIP}: ${e.message}`)]);
            }
            const ip = s.clusterIP;
            taken.push(() => this.ips.release(ip));
          }
        } else {
          let ip: string;
          try {
            ip = this.ips.allocateNext();
          } catch (e) {
            throw errors.internal(`failed to allocate a serviceIP: ${(e as Error).message}`);
          }
          taken.push(() => this.ips.release(ip));
          s.clusterIP = ip;
        }
        s.clusterIPs = [s.clusterIP, ...(s.clusterIPs ?? []).slice(1)];
      }
      const mine = new Set<number>(held.ports);
      const reservedNow = new Set<number>();
      const claim = (port: number, p: Path, prefix: string) => {
        if (reservedNow.has(port) || mine.has(port)) {
          reservedNow.add(port);
          return;
        }
        try {
          this.nodePorts.allocate(port);
        } catch (e) {
          if (!(e instanceof AllocationError)) throw e;
          throw invalid(svc, [field.invalid(p, port, `${prefix}${e.message}`)]);
        }
        reservedNow.add(port);
        taken.push(() => this.nodePorts.release(port));
      };
      const next = (): number => {
        try {
          const port = this.nodePorts.allocateNext();
          reservedNow.add(port);
          taken.push(() => this.nodePorts.release(port));
          return port;
        } catch (e) {
          throw errors.internal(`failed to allocate a nodePort: ${(e as Error).message}`);
        }
      };
      if (needsNodePorts(svc)) {
        const byServicePort = new Map<number, number>();
        (s.ports ?? []).forEach((port, i) => {
          if (port.nodePort) {
            claim(port.nodePort, Path.root('spec', 'ports').index(i).child('nodePort'), '');
            byServicePort.set(port.port, port.nodePort);
          }
        });
        for (const port of s.ports ?? []) {
          if (port.nodePort) continue;
          // A TCP and a UDP port of the same number share one node port.
          port.nodePort = byServicePort.get(port.port) ?? next();
          byServicePort.set(port.port, port.nodePort);
        }
      }
      if (needsHealthCheckNodePort(svc)) {
        if (s.healthCheckNodePort) {
          claim(s.healthCheckNodePort, Path.root('spec', 'healthCheckNodePort'), `failed to allocate requested HealthCheck NodePort ${s.healthCheckNodePort}: `);
        } else s.healthCheckNodePort = next();
      }
    } catch (e) {
      revert();
      throw e;
    }
    return {
      commit: () => {
        const now = heldBy(svc);
        for (const ip of held.ips) if (!now.ips.includes(ip)) this.ips.release(ip);
        for (const p of held.ports) if (!now.ports.includes(p)) this.nodePorts.release(p);
      },
      revert,
    };
  }

  release(svc: Service): void {
    const h = heldBy(svc);
    for (const ip of h.ips) this.ips.release(ip);
    for (const p of h.ports) this.nodePorts.release(p);
  }

  /**
   * Undoes one write of a Service that the store rolled back: what the written state holds is
   * released (a delete released it already) and what the state before it held is held again.
   * Called newest write first, so a value one undone write freed and a later one took is back
   * with its first holder.
   */
  undo(written: Service, deleted: boolean, before: Service | undefined): void {
    if (!deleted) this.release(written);
    // as at start-up: a value that no longer fits the range is not held (and was warned about then)
    if (before) this.rebuild([before]);
  }
}

/**
 * On update, values the server allocated and the client left out are kept (a PUT of the
 * original manifest must not lose its ClusterIP), and values only one type needs are dropped
 * when the type changes (upstream's patchAllocatedValues and dropTypeDependentFields).
 */
export function carryAllocatedValues(svc: Service, old: Service): void {
  const n = svc.spec;
  const o = old.spec;
  if (needsClusterIP(old) && needsClusterIP(svc)) {
    if (!n.clusterIP) n.clusterIP = o.clusterIP;
    if (!n.clusterIPs?.length && o.clusterIPs?.length) n.clusterIPs = [...o.clusterIPs];
  }
  if (needsNodePorts(old) && needsNodePorts(svc)) {
    const oldByPort = new Map((o.ports ?? []).map((p) => [p.port, p.nodePort]));
    for (const p of n.ports ?? []) if (!p.nodePort && oldByPort.get(p.port)) p.nodePort = oldByPort.get(p.port);
  }
  if (needsHealthCheckNodePort(old) && needsHealthCheckNodePort(svc) && !n.healthCheckNodePort) n.healthCheckNodePort = o.healthCheckNodePort;

  if (n.type === 'ExternalName' && o.type !== 'ExternalName') {
    if (n.clusterIP === o.clusterIP) {
      delete n.clusterIP;
      delete n.clusterIPs;
    }
    if (JSON.stringify(n.ipFamilies) === JSON.stringify(o.ipFamilies)) delete n.ipFamilies;
    if (n.ipFamilyPolicy === o.ipFamilyPolicy) delete n.ipFamilyPolicy;
  }
  if (!needsNodePorts(svc) && needsNodePorts(old)) {
    const oldByPort = new Map((o.ports ?? []).map((p) => [p.port, p.nodePort]));
    for (const p of n.ports ?? []) if (p.nodePort && p.nodePort === oldByPort.get(p.port)) delete p.nodePort;
  }
  if (!needsHealthCheckNodePort(svc) && needsHealthCheckNodePort(old) && n.healthCheckNodePort === o.healthCheckNodePort) delete n.healthCheckNodePort;
  if (n.type !== 'LoadBalancer' && o.type === 'LoadBalancer' && n.allocateLoadBalancerNodePorts === o.allocateLoadBalancerNodePorts) delete n.allocateLoadBalancerNodePorts;
  if (!['NodePort', 'LoadBalancer'].includes(n.type ?? '') && !(n.type === 'ClusterIP' && n.externalIPs?.length) && n.externalTrafficPolicy === o.externalTrafficPolicy) {
    delete n.externalTrafficPolicy;
  }
}

/** ClusterIP and ClusterIPs are two views of one value; fill whichever is missing. */
export function normalizeClusterIPs(svc: Service): void {
  const s = svc.spec;
  if (s.type === 'ExternalName') return;
  if (s.clusterIP && !s.clusterIPs?.length) s.clusterIPs = [s.clusterIP];
  else if (!s.clusterIP && s.clusterIPs?.length) s.clusterIP = s.clusterIPs[0];
}
