// A container's environment, as the kubelet makes it: among it the Docker-links-style variables
// for the Services the pod can see — those of the pod's namespace (when spec.enableServiceLinks
// is not false) and always the API server's `kubernetes` Service from the default namespace.
// Pure: objects in, variables out.
import type { Container, Pod, Service } from '../api/types.ts';

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

/** What the environment of a container is made from, besides the pod and container. */
export interface ContainerEnvInputs {
  nodeName: string;
  nodeIP: string;
  podIP?: string;
  /** the Services the agent sees, for the service links */
  services: Service[];
  /** the agent's own environment: PATH, and the test-run marker passed on */
  hostEnv?: NodeJS.ProcessEnv;
}

/**
 * A container's whole environment: the basics a process expects, the pod's identity, the
 * service links, then the container's `env` (values with $(VAR) references expanded, and
 * fieldRef values from the pod).
 */
export function containerEnv(pod: Pod, c: Container, i: ContainerEnvInputs): Record<string, string> {
  const hostEnv = i.hostEnv ?? process.env;
  const env: Record<string, string> = {
    PATH: hostEnv.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    HOSTNAME: pod.spec.hostname ?? pod.metadata.name!,
    ...serviceLinksFor(pod.metadata.namespace!, pod.spec.enableServiceLinks, i.services),
  };
  // The test runner finds what a test run left behind by this marker.
  if (hostEnv.PODPATH_TEST_RUN) env.PODPATH_TEST_RUN = hostEnv.PODPATH_TEST_RUN;
  const field = (p: string) => {
    // metadata.labels['KEY'] and metadata.annotations['KEY'] (the downward API's subscripts)
    const sub = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(p);
    if (sub) return pod.metadata[sub[1] as 'labels' | 'annotations']?.[sub[2]!];
    return fieldOf(p);
  };
  const fieldOf = (p: string) =>
    ({ 'metadata.name': pod.metadata.name, 'metadata.namespace': pod.metadata.namespace, 'metadata.uid': pod.metadata.uid, 'spec.nodeName': i.nodeName, 'status.podIP': i.podIP, 'status.hostIP': i.nodeIP, 'spec.serviceAccountName': pod.spec.serviceAccountName })[p];
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, k: string) => env[k] ?? m);
    else {
      const fr = (e.valueFrom as { fieldRef?: { fieldPath?: string } } | undefined)?.fieldRef?.fieldPath;
      if (fr) env[e.name] = field(fr) ?? '';
    }
  }
  return env;
}

/**
 * $(VAR) references in a container's command and args, as the kubelet expands them
 * (third_party/forked/golang/expansion): a defined variable is replaced, `$$` is a literal `$`,
 * anything else stays as written.
 */
export function expandVars(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => (m === '$$' ? '$' : name !== undefined && name in env ? env[name]! : m));
}
