// `podpath diagnose`: seed 003's "Service unreachable" checklist for a Service, an Ingress or one
// connection — in a running lab (its objects and events, the sockets in its pods, each node's
// kube-proxy and kernel rules) or offline from a state file.
import { Option, type Command } from 'commander';
import { clientIP, clusterCIDR, clusterDNS, routerIP, serviceCIDR, underlayCIDR } from '../lab/defaults.ts';

const collect = (v: string, acc: string[]) => [...acc, v];

export function addDiagnoseCommands(program: Command): void {
  program
    .command('diagnose')
    .description(
      "Say which hop of a Service's path fails, with the evidence and the fix: the Service exists; its selector matches pods (else which labels differ from the nearest ones); they are Ready (else the failing probe and its events); each targetPort resolves to a containerPort; the EndpointSlices list them; a socket listens on the port in each pod; kube-proxy runs and has synced on every node and the node's kernel holds the Service's rules; externalTrafficPolicy Local; NetworkPolicy allows the source; the name resolves (cluster DNS pods Ready, kube-dns has endpoints); for an Ingress, its class is served and its backends exist; and the path as `podpath trace` computes it. In a running lab (--name), or offline from a state file (-f: no sockets, kube-proxy or kernel rules, and it says so). Exit status 0 when every check passes, 3 when one fails, 1 on bad input.",
    )
    .argument('[target]', 'svc/NAMESPACE/NAME[:PORT] or ingress/NAMESPACE/NAME (or --to)')
    .option('--name <lab>', 'lab name (default: the only lab)')
    .option('-f, --filename <file-or-dir>', 'offline: YAML of the objects (as for podpath trace -f), and Events if any (repeatable; - for stdin)', collect, [] as string[])
    .option('--from <source>', 'client, node/NAME or pod/NAMESPACE/NAME (default: the first node for a Service, the client for an Ingress)')
    .option('--to <destination>', 'instead of a target: a URL, HOST:PORT or svc/NAMESPACE/NAME[:PORT], as podpath trace takes it')
    .addOption(new Option('--protocol <protocol>', 'transport protocol').choices(['tcp', 'udp']))
    .addOption(new Option('--mode <mode>', "offline: kube-proxy's mode on every node").choices(['iptables', 'nftables']).default('iptables'))
    .addOption(new Option('--cni-backend <backend>', 'offline: how nodes route pod traffic between them').choices(['host-gw', 'vxlan', 'bgp']).default('host-gw'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (target: string | undefined, o: { name?: string; filename: string[]; from?: string; to?: string; protocol?: 'tcp' | 'udp'; mode: string; cniBackend: 'host-gw' | 'vxlan' | 'bgp'; output: string }) => {
      const req = { ...(target !== undefined ? { target } : {}), ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}), ...(o.protocol ? { protocol: o.protocol } : {}) };
      let d;
      if (o.filename.length) {
        if (o.name) throw new Error('--name and -f: diagnose either a running lab or a state file');
        const { diagnoseFiles } = await import('../diagnose/offline.ts');
        const plan = { underlayCIDR, routerIP, clientIP, clusterCIDR, serviceCIDR, clusterDNS, clusterDomain: 'cluster.local', cniBackend: o.cniBackend };
        d = diagnoseFiles(o.filename, plan, o.mode, req);
      } else {
        const { diagnoseLab } = await import('../lab/diagnose.ts');
        d = await diagnoseLab(o.name, req);
      }
      const render = o.output === 'json' ? (await import('../diagnose/json.ts')).diagnosisJSON : (await import('../diagnose/text.ts')).diagnosisText;
      process.stdout.write(render(d));
      if (d.result !== 'ok') process.exitCode = 3;
    });
}
