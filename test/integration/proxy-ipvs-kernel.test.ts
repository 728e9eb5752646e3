// What `proxy render --mode ipvs` writes is taken by the real tools: its ipsets by `ipset
// restore` (as IPVS mode swaps them in) and its nat and filter rules by `iptables-restore --noflush`, in a namespace of the
// test's own. (The one match that needs the kernel's IPVS, `-m ipvs`, is left out where the kernel
// has none; the IPVS table itself cannot be loaded here.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { run } from '../../src/exec/exec.ts';
import { netnsAdd, netnsDel } from '../../src/exec/netns.ts';
import { ipsetSwapScript } from '../../src/proxy/ipvs/plan.ts';
import { render } from '../../src/proxy/app/render.ts';
import { repoRoot } from '../helpers/apiserver.ts';
import { isRoot, testName } from '../helpers/lab.ts';

const section = (text: string, heading: string) => {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => l.startsWith(heading)) + 1;
  const to = lines.findIndex((l, i) => i >= from && l.startsWith('# ') && !l.startsWith('# -t'));
  return lines.slice(from, to === -1 ? undefined : to).join('\n') + '\n';
};

it('ipset restore and iptables-restore take the IPVS mode render of upstream\'s overall case', { skip: !isRoot && 'needs root for a network namespace' }, () => {
  const text = render([path.join(repoRoot, 'test/fixtures/proxy-overall-state.yaml')], { mode: 'ipvs', nodeName: 'test-node', nodeIP: '192.168.0.2', config: { clusterCIDR: '10.0.0.0/8', masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: true, nodePortAddresses: [], scheduler: 'rr' } });
  const hasIpvs = fs.existsSync('/proc/net/ip_vs');
  const rules = section(text, '# iptables-restore').split('\n').filter((l) => hasIpvs || !l.includes(' -m ipvs ')).join('\n');
  const ns = `pp-${testName('', 3)}-ipvs`;
  netnsAdd(ns);
  try {
    const inNs = (argv: string[], input?: string) => run(['ip', 'netns', 'exec', ns, ...argv], input === undefined ? {} : { input });
    // As IPVS mode applies them: each set filled under a temporary name and swapped in — twice,
    // the second time over sets that exist (and are referenced by no rule yet).
    const swap = ipsetSwapScript(section(text, '# ipset save'));
    inNs(['ipset', 'restore'], swap);
    inNs(['ipset', 'restore'], swap);
    inNs(['iptables-restore', '--noflush'], rules);
    const sets = inNs(['ipset', 'list', '-n']).trim().split('\n');
    assert.equal(sets.length, 17, `no temporary set is left: ${sets}`);
    assert.ok(sets.includes('KUBE-LOAD-BALANCER-SOURCE-CIDR') && sets.includes('KUBE-IPVS-IPS'));
    assert.match(inNs(['ipset', 'list', 'KUBE-LOAD-BALANCER-SOURCE-CIDR']), /5\.6\.7\.8,tcp:80,203\.0\.113\.0\/25/);
    const filter = inNs(['iptables-save', '-t', 'filter']);
    assert.match(filter, /-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT/);
    assert.match(filter, /-A KUBE-PROXY-FIREWALL -m comment --comment "Kubernetes service load balancer ip \+ port for load balancer with sourceRange" -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -j KUBE-SOURCE-RANGES-FIREWALL/);
    const nat = inNs(['iptables-save', '-t', 'nat']);
    assert.match(nat, /-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip \+ port with externalTrafficPolicy=local" -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT/);
    assert.match(nat, /-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully/);
  } finally {
    netnsDel(ns);
  }
});
