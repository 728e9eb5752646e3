// Exec benchmark: what it costs to run one command in a network namespace, the way the exec
// layer does it (nsenter --net) against `ip netns exec` (which the node agent used for every
// command in a pod's namespace before) and against running it in the caller's namespace.
// Root only; a namespace of its own, deleted at the end.
//   node --import tsx bench/exec.ts [--calls 200]
import { randomBytes } from 'node:crypto';
import { arg } from './common.ts';
import { realExecutor, wrapNetns } from '../src/exec/exec.ts';
import { netnsAdd, netnsDel } from '../src/exec/netns.ts';

const calls = Number(arg('calls', '200'));
const ns = `ppb-exec-${randomBytes(3).toString('hex')}`;

function time(label: string, argv: string[]): number {
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    const r = realExecutor.exec(argv);
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr || r.error}`);
  }
  const ms = (performance.now() - t0) / calls;
  console.log(`${label.padEnd(44)} ${ms.toFixed(2).padStart(7)} ms/call`);
  return ms;
}

netnsAdd(ns);
try {
  const cmd = ['iptables-save', '-t', 'nat'];
  console.log(`${calls} calls each of \`${cmd.join(' ')}\``);
  const direct = time('direct (caller\'s namespace)', cmd);
  const nsenter = time('exec layer: nsenter --net', wrapNetns(cmd, { netns: ns }));
  const ipExec = time('ip netns exec', wrapNetns(cmd, { netns: ns, netnsEtc: true }));
  console.log(`nsenter costs ${(nsenter - direct).toFixed(2)} ms over a direct call; ip netns exec ${(ipExec - direct).toFixed(2)} ms (${(ipExec / nsenter).toFixed(1)}x nsenter)`);
} finally {
  netnsDel(ns);
}
