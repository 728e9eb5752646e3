// The Docker-links-style variables the kubelet gives every container for the Services it can
// see: those of the pod's namespace (when spec.enableServiceLinks is not false) and always the
// API server's `kubernetes` Service from the default namespace. Pure: Services in, variables out.
import type { Service } from '../api/types.ts';

const envName = (name: string) => name.toUpperCase().replace(/-/g, '_');

/** The variables for one Service, e.g. API_SERVICE_SERVICE_HOST=10.96.0.20. */
export function serviceLinkEnv(svc: Service): Record<string, string> {
  const ip = svc.spec?.clusterIP;
  const ports = svc.spec?.ports ?? [];
  if (!ip || ip === 'None' || ports.length === 0) return {};
  const name = envName(svc.metadata.name!);
  const env: Record<string, string> = { [`${name}_SERVICE_HOST`]: ip, [`${name}_SERVICE_PORT`]: String(ports[0]!.port) };
  const host = ip.includes(':') ? `[${ip}]` : ip;
  for (const p of ports) if (p.name) env[`${name}_SERVICE_PORT_${envName(p.name)}`] = String(p.port);
  const first = ports[0]!;
  env[`${name}_PORT`] = `${(first.protocol ?? 'TCP').toLowerCase()}://${host}:${first.port}`;
  for (const p of ports) {
    const proto = p.protocol ?? 'TCP';
    const prefix = `${name}_PORT_${p.port}_${proto}`;
    env[prefix] = `${proto.toLowerCase()}://${host}:${p.port}`;
    env[`${prefix}_PROTO`] = proto.toLowerCase();
    env[`${prefix}_PORT`] = String(p.port);
    env[`${prefix}_ADDR`] = ip;
  }
  return env;
}

/** All service-link variables for a pod in `namespace`. */
export function serviceLinksFor(namespace: string, enableServiceLinks: boolean | undefined, services: Service[]): Record<string, string> {
  const env: Record<string, string> = {};
  const visible = services.filter((s) => (s.metadata.namespace === namespace && enableServiceLinks !== false) || (s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes'));
  // The pod's own namespace wins over the master service when names collide.
  visible.sort((a, b) => Number(a.metadata.namespace === namespace) - Number(b.metadata.namespace === namespace));
  for (const s of visible) Object.assign(env, serviceLinkEnv(s));
  return env;
}
