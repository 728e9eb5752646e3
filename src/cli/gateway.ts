// `podpath gateway route`: the Gateway API's routing decision for one request, offline, from a
// file; `podpath gateway-controller`: the same decisions on the Ingress controller's nginx.
import { Option, type Command } from 'commander';
import { nginxDataPlane, nginxDataPlaneOptions } from './ingress.ts';
import { onStop } from '../util/lifecycle.ts';

const collect = (v: string, acc: string[]) => [...acc, v];

export function addGatewayCommands(program: Command): void {
  const controller = program
    .command('gateway-controller')
    .description(
      "A Gateway API controller on the Ingress controller's data plane: watches GatewayClasses, Gateways, HTTPRoutes, ReferenceGrants, Services, EndpointSlices, Secrets and Namespaces; serves the Gateways of its GatewayClasses with a real nginx (each listener a server on its port, HTTPRoute matches chosen by the Lua code in the spec's precedence, endpoints to the Lua balancer without a reload); with --data-plane-selector gives each Gateway a LoadBalancer Service (and address) of its own; writes GatewayClass, Gateway (addresses, listeners) and HTTPRoute status; serves /healthz and /metrics.",
    )
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--controller-name <name>', 'the GatewayClass spec.controllerName it answers to', 'podpath.dev/gateway-controller')
    .option('--publish-service <namespace/name>', "the data plane's Service: its load-balancer address goes into each Gateway's status, and only listeners on its ports are accepted")
    .option('--data-plane-selector <labels>', "the data plane's pods (this controller's own, by label selector, in --data-plane-namespace): each Gateway gets a LoadBalancer Service of its own, GATEWAY-CLASS in the Gateway's namespace, whose endpoints they are")
    .option('--data-plane-namespace <namespace>', "the data plane's pods' namespace (default: $POD_NAMESPACE)");
  // NGINX Gateway Fabric's NginxProxy workerConnections default
  nginxDataPlaneOptions(controller, { workerConnections: 1024 })
    .action(async (o: Record<string, string | undefined>) => {
      const { runGatewayController } = await import('../gateway/controller.ts');
      const log = (line: string) => process.stderr.write(`${new Date().toISOString()} gateway-controller: ${line}\n`);
      const c = await runGatewayController({
        ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
        controllerName: String(o.controllerName),
        ...(o.publishService ? { publishService: o.publishService } : {}),
        ...(o.dataPlaneSelector ? { dataPlane: { selector: o.dataPlaneSelector, namespace: o.dataPlaneNamespace ?? process.env.POD_NAMESPACE ?? 'default' } } : {}),
        // listeners bring their own ports; these are the template's defaults
        ...nginxDataPlane(o, { httpPort: 80, httpsPort: 443 }),
        log,
      });
      onStop(() => c.stop());
    });

  const gateway = program.command('gateway').description('The Gateway API (GatewayClass, Gateway, HTTPRoute, ReferenceGrant) offline: which listener, route, rule and backend serve a request. No cluster, no root.');

  gateway
    .command('route')
    .description(
      'Say what a Gateway does with one request: the listener (the URL\'s port, default 80/443, then the most specific hostname; https picks by SNI and answers 421 to a misdirected Host), the HTTPRoute rule that wins across the routes attached to it and why, what each filter changed, and the backend. The CRDs\' defaults are applied; every Gateway of the file counts as programmed. Exit status 0 when forwarded (200), 3 otherwise, 1 on bad input.',
    )
    .argument('<url>', 'the request, http://HOST[:PORT]/PATH?QUERY or https://…')
    .requiredOption('-f, --filename <file-or-dir>', 'YAML of Namespaces, Services, EndpointSlices, Secrets, GatewayClasses, Gateways, HTTPRoutes and ReferenceGrants, v1 or v1beta1 (repeatable; - for stdin)', collect, [] as string[])
    .requiredOption('--gateway <namespace/name>', 'the Gateway the request reaches')
    .option('-X, --method <method>', 'request method', 'GET')
    .option('-H, --header <header>', 'a request header, "Name: value" (repeatable; Host: replaces the URL\'s host)', collect, [] as string[])
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (url: string, o: { filename: string[]; gateway: string; method: string; header: string[]; output: string }) => {
      const { routeFiles, routeJSON, routeText } = await import('../gateway/offline.ts');
      const r = routeFiles(o.filename, { url, gateway: o.gateway, headers: o.header, method: o.method });
      process.stdout.write(`${o.output === 'json' ? routeJSON(r) : routeText(r)}\n`);
      if (r.status !== 200) process.exitCode = 3;
    });
}
