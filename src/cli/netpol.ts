// `podpath netpol`: the NetworkPolicy commands. `matrix` and `check` compute offline from a state
// file; the agent (one per node) enforces the same model with nftables.
import os from 'node:os';
import type { Command } from 'commander';
import { parseHostPort } from '../util/ip.ts';
import { onStop } from '../util/lifecycle.ts';

const files = (v: string, acc: string[]) => [...acc, v];

export function addNetpolCommands(program: Command): void {
  const netpol = program
    .command('netpol')
    .description('NetworkPolicy (networking.k8s.io/v1): the per-node enforcement agent, and reachability computed offline from a file (matrix, check).');

  netpol
    .command('agent')
    .description("Enforce NetworkPolicies for this node's pods: informers for NetworkPolicies, Pods and Namespaces; the node's `ip podpath-netpol` nftables table (a forward chain seeing pod IPs after kube-proxy's DNAT, per-pod chains behind verdict maps), one nft transaction per change; denied packets dropped and counted on /metrics.")
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--node-name <name>', 'the Node whose pods this agent guards', os.hostname())
    .option('--metrics-bind-address <host:port>', 'Prometheus /metrics ("off": none)', '127.0.0.1:10264')
    .action(async (o: { kubeconfig?: string; nodeName: string; metricsBindAddress: string }) => {
      const { runAgent } = await import('../netpol/agent.ts');
      const log = (line: string) => process.stderr.write(`${new Date().toISOString()} netpol ${o.nodeName}: ${line}\n`);
      const agent = await runAgent({
        ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
        nodeName: o.nodeName,
        ...(o.metricsBindAddress && o.metricsBindAddress !== 'off' ? { metrics: parseHostPort(o.metricsBindAddress, '--metrics-bind-address') } : {}),
        log,
      });
      onStop(() => agent.stop());
    });

  netpol
    .command('probe')
    .description("Measure the matrix in a running lab: every pod, and the client namespace, tries every pod on one port at once (real packets through the nodes' tables), and the table seen is set against what the policies say (exit status 0 when they agree, 3 when not).")
    .option('--name <lab>', 'lab name (default: the only lab)')
    .option('--port <port>', 'destination port', '80')
    .option('--protocol <protocol>', 'TCP or UDP', 'TCP')
    .option('--timeout <ms>', 'how long each probe waits for an answer', '1000')
    .option('--namespaces <list>', 'comma-separated namespaces whose pods are probed (default: all but kube-system)')
    .action(async (o: { name?: string; port: string; protocol: string; timeout: string; namespaces?: string }) => {
      const { parsePort, parseProtocol } = await import('../netpol/policy.ts');
      const { probeLab } = await import('../lab/netpolprobe.ts');
      const r = await probeLab({
        ...(o.name ? { name: o.name } : {}),
        port: parsePort(o.port),
        protocol: parseProtocol(o.protocol),
        timeoutMs: Number(o.timeout) > 0 ? Number(o.timeout) : 1000,
        ...(o.namespaces ? { namespaces: o.namespaces.split(',').map((x) => x.trim()).filter(Boolean) } : {}),
      });
      process.stdout.write(r.text);
      if (!r.agree) process.exitCode = 3;
    });

  netpol
    .command('matrix')
    .description('Print who may connect to whom: every pod to every pod of the file on one port and protocol, `.` allowed, `X` denied (the upstream e2e truth table). No cluster, no root.')
    .requiredOption('-f, --filename <file-or-dir>', 'YAML of Namespaces, Pods (status.podIP, labels, containerPorts) and NetworkPolicies (repeatable; - for stdin)', files, [] as string[])
    .option('--port <port>', 'destination port', '80')
    .option('--protocol <protocol>', 'TCP, UDP or SCTP', 'TCP')
    .action(async (o: { filename: string[]; port: string; protocol: string }) => {
      const { matrixText } = await import('../netpol/offline.ts');
      process.stdout.write(matrixText(o.filename, o.port, o.protocol));
    });

  netpol
    .command('check')
    .description('Say whether one connection is allowed, naming the policies that isolate each end and the rules that allow it (exit status 0 allowed, 3 denied). No cluster, no root.')
    .requiredOption('-f, --filename <file-or-dir>', 'YAML of Namespaces, Pods and NetworkPolicies (repeatable; - for stdin)', files, [] as string[])
    .requiredOption('--from <pod-or-ip>', 'the client: NAMESPACE/POD or an IP address (a pod\'s IP stands for the pod)')
    .requiredOption('--to <pod-or-ip>', 'the server: NAMESPACE/POD or an IP address')
    .requiredOption('--port <port>', 'destination port')
    .option('--protocol <protocol>', 'TCP, UDP or SCTP', 'TCP')
    .action(async (o: { filename: string[]; from: string; to: string; port: string; protocol: string }) => {
      const { checkText } = await import('../netpol/offline.ts');
      const r = checkText(o.filename, o);
      process.stdout.write(r.text);
      if (!r.allowed) process.exitCode = 3;
    });
}
