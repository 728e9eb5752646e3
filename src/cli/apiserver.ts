// `podpath apiserver`: runs in the foreground until SIGINT/SIGTERM.
import { startApiServer, type ApiServerOptions } from '../apiserver/server.ts';

export async function runApiServer(opts: Omit<ApiServerOptions, 'log'>): Promise<void> {
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const server = await startApiServer({ ...opts, log });
  process.stdout.write(`podpath apiserver listening on ${server.url}${opts.kubeconfig ? ` (kubeconfig: ${opts.kubeconfig})` : ''}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
