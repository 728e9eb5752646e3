// `podpath gateway route`: the Gateway API's routing decision for one request, offline, from a file.
import { Option, type Command } from 'commander';

const collect = (v: string, acc: string[]) => [...acc, v];

export function addGatewayCommands(program: Command): void {
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
