// The Node flags podpath's long-running processes start with: the lab's daemons (`podpath up`
// starts them) and the built-in images the node agent runs as podpath subcommands. V8 lets its
// young generation grow to 16 MiB per semi-space under allocation bursts (a list, a sync) and
// keeps it; capped at 2 MiB, the API server holds about 27 MiB less, the controller manager and
// the NetworkPolicy agent about 15 MiB less each, for scavenges that are more frequent but
// shorter (bench/lab.ts). The API server gets 8 MiB: at 2 MiB it lost a quarter of its
// durable write rate and a sixth of its watch latency (bench/apiserver.ts), a price a user sees;
// at 8 MiB bench/apiserver.ts at 10,000 objects showed no difference from no cap (writes/s and
// watch latency within run-to-run noise), while a lab's start no longer leaves it a 32 MiB young
// generation (16 MiB less at seed 001).
export const daemonNodeFlags: readonly string[] = ['--max-semi-space-size=2'];

const apiserverNodeFlags: readonly string[] = ['--max-semi-space-size=8'];

/** The Node flags of the lab's daemon `component`. */
export function labDaemonNodeFlags(component: string): readonly string[] {
  return component === 'apiserver' ? apiserverNodeFlags : daemonNodeFlags;
}
