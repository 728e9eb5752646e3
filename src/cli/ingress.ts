// `podpath ingress-controller` (the controller, driving a real nginx) and `podpath ingress
// render|route` (the same model, offline, from a file).
import type { Command } from 'commander';
import { parseHostPort } from '../util/ip.ts';
import { onStop } from '../util/lifecycle.ts';

const collect = (v: string, acc: string[]) => [...acc, v];

/** The flag commander names `name` (statusPort: --status-port). */
const flagName = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** A port number flag (`name` as commander names it, e.g. statusPort for --status-port). */
export function portFlag(o: Record<string, unknown>, name: string): number {
  const n = Number(o[name]);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${flagName(name)} must be a port number, not ${o[name]}`);
  return n;
}

/** A positive integer flag (`name` as commander names it). */
function positiveInt(o: Record<string, unknown>, name: string): number {
  const n = Number(o[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flagName(name)} must be a positive integer, not ${o[name]}`);
  return n;
}

/**
 * The nginx data plane's settings from the flags the Ingress and Gateway controllers share
 * (--conf-dir, --run-dir, --listen-address, --status-port, --worker-processes, --worker-connections, --access-log,
 * --healthz-bind-address, --nginx, --sync-period), with the HTTP and HTTPS ports given.
 */
export function nginxDataPlane(o: Record<string, unknown>, ports: { httpPort: number; httpsPort: number }) {
  return {
    render: {
      confDir: String(o.confDir),
      runDir: o.runDir ? String(o.runDir) : `${String(o.confDir)}/run`,
      listenAddress: String(o.listenAddress),
      ...ports,
      statusPort: portFlag(o, 'statusPort'),
      workerProcesses: String(o.workerProcesses),
      workerConnections: positiveInt(o, 'workerConnections'),
      accessLog: String(o.accessLog),
      redirectCode: 308 as const,
    },
    ...(o.healthzBindAddress !== 'off' ? { healthz: parseHostPort(String(o.healthzBindAddress), '--healthz-bind-address') } : {}),
    nginx: String(o.nginx),
    minSyncMs: Number(o.syncPeriod) >= 0 ? Number(o.syncPeriod) : 500,
  };
}

/**
 * Declares the flags nginxDataPlane reads on a controller's command, with the worker_connections
 * of the controller it follows (ingress-nginx 16384, NGINX Gateway Fabric 1024).
 */
export function nginxDataPlaneOptions(cmd: Command, defaults: { workerConnections: number }): Command {
  return cmd
    .option('--conf-dir <dir>', 'where nginx.conf, the certificates and the Lua code are written', '/etc/nginx')
    .option('--run-dir <dir>', "nginx's pid file and temp directories (default: CONF_DIR/run, private to the pod like the configuration)")
    .option('--listen-address <ip>', 'address nginx binds (default: all)', '')
    .option('--status-port <port>', "nginx's status server on 127.0.0.1 (endpoint updates, counters)", '10246')
    .option('--healthz-bind-address <host:port>', '/healthz and /metrics ("off": none)', '0.0.0.0:10254')
    .option('--worker-processes <n>', "nginx's worker_processes", 'auto')
    .option('--worker-connections <n>', "nginx's worker_connections (each slot holds about 0.4 KiB in every worker)", String(defaults.workerConnections))
    .option('--access-log <file>', 'access log ("off": none)', '/dev/stdout')
    .option('--nginx <path>', 'the nginx binary', 'nginx')
    .option('--sync-period <ms>', 'least time between two reloads (changes in between are merged into one)', '500');
}

export function addIngressCommands(program: Command): void {
  const controller = program
    .command('ingress-controller')
    .description(
      'An Ingress controller built like ingress-nginx: watches Ingresses, IngressClasses, Services, EndpointSlices and Secrets and drives a real nginx (checked with nginx -t, reloaded only when nginx.conf changes; endpoints reach its Lua balancer without a reload), sets each Ingress\'s status to the controller Service\'s address, and serves /healthz and /metrics.',
    )
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--ingress-class <name>', 'the IngressClass name this controller serves', 'nginx')
    .option('--controller-class <name>', "the IngressClass spec.controller it answers to", 'k8s.io/ingress-nginx')
    .option('--watch-ingress-without-class', 'also serve Ingresses that name no class')
    .option('--publish-service <namespace/name>', "the Service whose load-balancer address goes into each Ingress's status")
    .option('--http-port <port>', 'port of the HTTP servers', '80')
    .option('--https-port <port>', 'port of the HTTPS servers', '443');
  // ingress-nginx's max-worker-connections
  nginxDataPlaneOptions(controller, { workerConnections: 16384 })
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const { runController } = await import('../ingress/controller/controller.ts');
      const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ingress-controller: ${line}\n`);
      const c = await runController({
        ...(o.kubeconfig ? { kubeconfig: String(o.kubeconfig) } : {}),
        class: { ingressClass: String(o.ingressClass), controller: String(o.controllerClass), watchWithoutClass: Boolean(o.watchIngressWithoutClass) },
        ...(o.publishService ? { publishService: String(o.publishService) } : {}),
        ...nginxDataPlane(o, { httpPort: portFlag(o, 'httpPort'), httpsPort: portFlag(o, 'httpsPort') }),
        log,
      });
      onStop(() => c.stop());
    });

  const ingress = program.command('ingress').description('The Ingress controller\'s model offline: the nginx.conf it would load, and which Ingress serves a request. No cluster, no root.');

  ingress
    .command('render')
    .description('Print the nginx.conf the controller would load for a file of Ingresses, IngressClasses, Services, EndpointSlices and Secrets (the problems it found as comments first).')
    .requiredOption('-f, --filename <file-or-dir>', 'YAML of the objects (repeatable; - for stdin)', collect, [] as string[])
    .option('--class <name>', 'the IngressClass the controller serves', 'nginx')
    .action(async (o: { filename: string[]; class: string }) => {
      const { renderText } = await import('../ingress/controller/offline.ts');
      process.stdout.write(renderText(o.filename, o.class));
    });

  ingress
    .command('route')
    .description('Say which Ingress, rule, path and backend would serve a request (exit status 0 when a backend serves it, 3 otherwise).')
    .argument('<url>', 'the request, http://HOST/PATH or https://HOST/PATH')
    .requiredOption('-f, --filename <file-or-dir>', 'YAML of the objects (repeatable; - for stdin)', collect, [] as string[])
    .option('--class <name>', 'the IngressClass the controller serves', 'nginx')
    .option('-H, --header <header>', 'a request header, "Name: value" (repeatable; Host: picks the virtual server)', collect, [] as string[])
    .option('--sni <name>', 'the TLS server name (https; default: the URL\'s host)')
    .option('-X, --method <method>', 'request method', 'GET')
    .option('--client-ip <ip>', 'the client address nginx sees (allow lists)', '192.168.49.100')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (url: string, o: { filename: string[]; class: string; header: string[]; sni?: string; method: string; clientIp: string; output: string }) => {
      if (o.output !== 'text' && o.output !== 'json') throw new Error(`-o must be text or json, not ${o.output}`);
      const { routeRequest, routeJSON, routeText } = await import('../ingress/controller/offline.ts');
      const r = routeRequest(o.filename, { url, headers: o.header, ...(o.sni ? { sni: o.sni } : {}), method: o.method, clientIP: o.clientIp }, o.class);
      process.stdout.write(`${o.output === 'json' ? routeJSON(r) : routeText(r)}\n`);
      if (r.status !== 200) process.exitCode = 3;
    });
}
