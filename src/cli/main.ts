// The podpath command line.
import { Command, Option } from 'commander';
import path from 'node:path';
import { runApiServer } from './apiserver.ts';

const program = new Command();
program
  .name('podpath')
  .description('Kubernetes service networking, from the user to the Pod, running for real on one Linux machine.')
  .version('0.1.0')
  .showHelpAfterError();

program
  .command('apiserver')
  .description('Run a Kubernetes API server (HTTPS, bearer token, durable embedded storage) in the foreground.')
  .requiredOption('--data-dir <dir>', 'directory for storage, certificates and the token')
  .option('--listen <host:port>', 'address to listen on', '127.0.0.1:6443')
  .option('--service-cidr <cidr>', 'range ClusterIPs are allocated from', '10.96.0.0/12')
  .option('--node-port-range <lo-hi>', 'range NodePorts are allocated from', '30000-32767')
  .option('--kubeconfig <file>', 'write a kubeconfig for this server (context "podpath", mode 0600)')
  .addOption(new Option('--advertise-address <ip>', 'address the `kubernetes` Service points at (default: none)'))
  .option('--apply <file>', 'after starting, create or update the objects in this YAML file (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .action(async (o: { dataDir: string; listen: string; serviceCidr: string; nodePortRange: string; kubeconfig?: string; advertiseAddress?: string; apply: string[] }) => {
    await runApiServer({
      apply: o.apply.map((f) => path.resolve(f)),
      dataDir: path.resolve(o.dataDir),
      listen: o.listen,
      serviceCIDR: o.serviceCidr,
      nodePortRange: o.nodePortRange,
      ...(o.kubeconfig ? { kubeconfig: path.resolve(o.kubeconfig) } : {}),
      ...(o.advertiseAddress ? { advertiseAddress: o.advertiseAddress } : {}),
    });
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`podpath: ${(e as Error).message}\n`);
  process.exit(1);
});
