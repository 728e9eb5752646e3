// `minikube service NAME --url` for a lab: 127.0.0.1:<port> on the host -> a unix socket -> a
// forwarder in the first node's namespace -> the Service's NodePort on that node.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Service } from '../api/types.ts';
import { objectPath } from '../client/client.ts';
import { wrapNetns } from '../exec/exec.ts';
import { labClient, pickLab } from './access.ts';
import { tunnelHost } from './defaults.ts';
import { labPaths, podpathJs } from './lab.ts';
import { tunnel } from './tunnel.ts';
import { waitFor } from './wait.ts';

export interface ServiceTunnel {
  url: string;
  close(): void;
}

export async function openServiceTunnel(name: string | undefined, svcName: string, namespace: string): Promise<ServiceTunnel> {
  const s = pickLab(name);
  const client = labClient(s);
  let svc: Service;
  try {
    svc = await client.get<Service>(objectPath('v1', 'services', namespace, svcName));
  } finally {
    client.close();
  }
  const port = svc.spec.ports?.find((x) => x.nodePort);
  if (!port?.nodePort) throw new Error(`service ${namespace}/${svcName} has no NodePort (type ${svc.spec.type})`);
  const node = s.nodes[0]!;
  const sock = path.join(labPaths(s.name).dir, `svc-${namespace}-${svcName}-${process.pid}.sock`);
  // The forwarder runs until closed: spawned, not run through an Executor.
  const argv = wrapNetns([process.execPath, podpathJs, 'forward', '--listen-unix', sock, '--to', `${node.ip}:${port.nodePort}`], { netns: node.netns });
  const fwd = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  await waitFor(() => fs.existsSync(sock), 10_000, 'the forwarder');
  const t = await tunnel(tunnelHost, 0, sock);
  return {
    url: `http://${tunnelHost}:${t.port}`,
    close: () => {
      t.server.close();
      fwd.kill('SIGTERM');
      fs.rmSync(sock, { force: true });
    },
  };
}
