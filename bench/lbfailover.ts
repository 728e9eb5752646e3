// LoadBalancer IP failover time in a 3-node lab: the node holding the address dies — its agent
// killed (SIGKILL), stopped (SIGTERM: it lets go and tells its peers), or its underlay link cut —
// and the client connects to the same IP every few tens of milliseconds until a connection is
// answered through another node (the address on that node, the client's ARP entry naming its MAC);
// beside it, when the new holder's agent logged taking the address (the client's figure adds
// its polling and, under load, the commands' own time).
// Each run brings the node back and waits for the address to return before the next. Prints the
// median and max per way of dying against the 5 s aim, and, as the reference of the same run,
// whether the dead node's Node was still Ready when the client was served: what the choice
// waited for before the speakers' heartbeats (this project has no node lifecycle controller, so
// a dead agent's Node stays Ready and the address never moved).
//   npm run build && node --import tsx bench/lbfailover.ts [--runs 5] [--deaths kill,term,link]
import fs from 'node:fs';
import path from 'node:path';
import { arg } from './common.ts';
import { labPaths } from '../src/lab/lab.ts';
import { deadAfterMs, heartbeatIntervalMs } from '../src/agent/memberlist.ts';
import { startLab } from '../test/helpers/lab.ts';
import { failOver, labState, loadBalancedApp, reviveNode, watchHolders, type Death } from '../test/helpers/lbfailover.ts';

const runs = Number(arg('runs', '5'));
const deaths = arg('deaths', 'kill,term,link').split(',') as Death[];
const aimMs = 5000;
for (const d of deaths) if (!['kill', 'term', 'link'].includes(d)) throw new Error(`--deaths: ${d} is not kill, term or link`);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** When the node's agent logged taking the address after `since` (epoch ms), from its log. */
function claimedAt(labName: string, node: string, ip: string, since: number): number | undefined {
  const log = fs.readFileSync(path.join(labPaths(labName).logs, `agent-${node}.log`), 'utf8');
  for (const line of log.split('\n')) {
    const m = /^(\S+) agent \S+: answering for LoadBalancer IP (\S+)$/.exec(line);
    if (m && m[2] === ip && Date.parse(m[1]!) >= since) return Date.parse(m[1]!);
  }
  return undefined;
}

const lab = await startLab({ nodes: 3, tag: 'lbb', args: ['--no-dns', '--no-netpol'] });
try {
  const { s, ip, url, holder } = await loadBalancedApp(lab);
  console.log(`LoadBalancer IP ${ip}, held by ${holder}; speakers' heartbeat ${heartbeatIntervalMs} ms, dead after ${deadAfterMs} ms; ${runs} runs per way of dying; aim ${aimMs} ms`);
  const rows: string[][] = [['death', 'runs', 'served: median ms', 'max ms', 'within aim', 'claimed: median ms', 'max ms', 'Node still Ready when served']];
  for (const how of deaths) {
    const ms: number[] = [];
    const claims: number[] = [];
    let stillReady = 0;
    let failed = 0;
    for (let i = 0; i < runs; i++) {
      const r = await failOver(labState(lab), ip, url, holder, how, { tries: 10_000, withinMs: 30_000, pauseMs: 20, maxTimeSeconds: 0.3 });
      if ('ms' in r) {
        ms.push(r.ms);
        const claimed = claimedAt(lab.name, r.to, ip, r.at);
        if (claimed !== undefined) claims.push(claimed - r.at);
        const node = lab.kubectl(['get', 'node', holder, '-o', 'json']);
        if (node.code === 0 && JSON.parse(node.stdout).status.conditions.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True')) stillReady++;
        console.log(`  ${how} #${i + 1}: served after ${r.ms} ms through ${r.to} (connection ${r.tries}); its agent took the address after ${claimed === undefined ? '?' : claimed - r.at} ms`);
      } else {
        failed++;
        console.log(`  ${how} #${i + 1}: not served through another node within 30 s (${r.last})`);
      }
      reviveNode(lab, labState(lab), holder, how);
      const seen = await watchHolders(s, ip, holder, 30_000);
      if (seen.at(-1)?.join() !== holder) throw new Error(`the address did not return to ${holder}: ${JSON.stringify(seen.slice(-3))}`);
      if (seen.some((h) => h.length > 1)) console.log(`  ${how} #${i + 1}: two holders seen on the way back: ${JSON.stringify(seen.filter((h) => h.length > 1))}`);
    }
    const stat = (xs: number[], f: (xs: number[]) => number) => (xs.length ? String(f(xs)) : '-');
    rows.push([how, String(runs), stat(ms, median), stat(ms, (xs) => Math.max(...xs)), `${ms.filter((x) => x <= aimMs).length}/${runs}`, stat(claims, median), stat(claims, (xs) => Math.max(...xs)), `${stillReady}/${ms.length}${failed ? ` (${failed} not served)` : ''}`]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((x, c) => x.padEnd(widths[c]!)).join('  '));
} finally {
  await lab.down();
}
