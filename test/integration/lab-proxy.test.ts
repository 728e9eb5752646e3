// kube-proxy in a real one-node lab with the seed example, in each rule mode: NodePort,
// ClusterIP (and hairpin), ClientIP affinity, refusal without endpoints, LoadBalancer IPs,
// scaling reflected in the rules, stale UDP conntrack entries removed, upstream's layout in
// the kernel, /metrics, and rules that outlive a killed proxy and converge after its restart.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readState } from '../../src/lab/lab.ts';
import { eventually, repoRoot, sleep } from '../helpers/apiserver.ts';
import { echoHits, explained, isRoot, kubeProxyLog, kubeProxyPod, pods, serviceClusterIP, startLab, udpEchoFromNode, udpEchoManifest, type TestLab } from '../helpers/lab.ts';

const seed = path.join(repoRoot, 'examples/seed-001');
type Mode = 'iptables' | 'nftables';

/** The node's kube-proxy rules as the kernel tool lists them. */
function rules(lab: TestLab, mode: Mode): string {
  const netns = readState(lab.name)!.nodes[0]!.netns;
  const argv = mode === 'iptables' ? ['iptables-save'] : ['nft', 'list', 'table', 'ip', 'kube-proxy'];
  return spawnSync('ip', ['netns', 'exec', netns, ...argv], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout;
}

/** How many endpoints the rules send default/<svc> (port unnamed, TCP) to. */
function endpointsInRules(text: string, mode: Mode, svc: string): number {
  if (mode === 'iptables') return text.match(new RegExp(`^-A KUBE-SEP-\\w+ .*--comment "?default/${svc}"? .*-j DNAT --to-destination `, 'gm'))?.length ?? 0;
  const m = new RegExp(`chain service-\\w+-default/${svc}/tcp/ \\{[^}]*?numgen random mod (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

/** A listing to compare before and after a restart: rule lines, and set elements one per line, sorted. */
function normalized(text: string, mode: Mode): string[] {
  if (mode === 'iptables') return text.split('\n').filter((l) => l.startsWith('-A')).sort();
  const flat = text.replace(/elements = \{([^}]*)\}/g, (_, els: string) => els.split(',').map((e) => `element ${e.replace(/\s+/g, ' ').trim()}`).join('\n'));
  return flat.split('\n').map((l) => l.trim()).filter(Boolean).sort();
}

for (const mode of ['iptables', 'nftables'] as const) {
  describe(`kube-proxy in ${mode} mode, in a lab with the seed example`, { skip: !isRoot && 'labs need root' }, () => {
    let lab: TestLab;

    before(async () => {
      lab = await startLab({ files: [seed], proxyMode: mode, args: ['--no-netpol'] });
    });
    after(async () => {
      if (lab) {
        const r = await lab.down();
        assert.equal(r.code, 0, r.stderr);
      }
    });

    const hits = (from: string, url: string, n: number) => echoHits(lab, from, url, n);
    const clusterIP = (name: string) => serviceClusterIP(lab, name);

    it('reaches both pods through the NodePort 192.168.49.2:30080 from the client namespace, SNATed', () => {
      const names = new Set(pods(lab, 'app=api').map((p) => p.name));
      const seen = new Set<string>();
      for (let round = 0; round < 5 && seen.size < names.size; round++) {
        for (const a of hits('client', 'http://192.168.49.2:30080/api/v1/np', 20)) {
          seen.add(a.pod);
          // externalTrafficPolicy Cluster: the pod sees the node's bridge address, not the client
          assert.match(a.client, /^10\.244\.0\.1:\d+$/);
        }
      }
      assert.deepEqual([...seen].sort(), [...names].sort(), 'both pods answered within 100 requests');
    });

    it('reaches both pods through the ClusterIP from a pod, and a pod reaches itself (hairpin)', () => {
      const ip = clusterIP('api-service');
      const [me, other] = pods(lab, 'app=api');
      const seen = new Set<string>();
      for (let round = 0; round < 5 && seen.size < 2; round++) {
        for (const a of hits(`pod/default/${me!.name}`, `http://${ip}:8080/api/v1/cip`, 20)) {
          seen.add(a.pod);
          // to another pod the source stays the pod's own IP; to itself it is masqueraded (hairpin)
          if (a.pod === other!.name) assert.match(a.client, new RegExp(`^${me!.ip.replace(/\./g, '\\.')}:`));
          else assert.match(a.client, /^10\.244\.0\.1:\d+$/);
        }
      }
      assert.deepEqual([...seen].sort(), [me!.name, other!.name].sort());
    });

    it('keeps a client on one pod with ClientIP affinity, and refuses a Service without endpoints at once', async () => {
      lab.ok(['apply', '-f', '-'], `apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: api}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  selector: {app: nothing-matches}
  ports: [{port: 80, targetPort: 8080}]
`);
      const [me] = pods(lab, 'app=api');
      const noEndpoints = mode === 'iptables' ? '"default/nobody has no endpoints"' : 'comment "default/nobody" : goto reject-chain';
      await eventually(() => endpointsInRules(rules(lab, mode), mode, 'sticky') === 2 && rules(lab, mode).includes(noEndpoints), 15_000, 'kube-proxy to write both Services');
      const answered = new Set(hits(`pod/default/${me!.name}`, `http://${clusterIP('sticky')}/api/v1/sticky`, 20).map((a) => a.pod));
      assert.equal(answered.size, 1, `one pod answered every connection, not ${[...answered].join(', ')}`);
      // A reject answers with a TCP reset: curl fails to connect (exit 7) instead of timing out (28).
      const r = lab.curl(`pod/default/${me!.name}`, `http://${clusterIP('nobody')}/`, ['--connect-timeout', '5']);
      assert.equal(r.code, 7, r.stderr);
      lab.ok(['delete', 'svc', 'sticky', 'nobody']);
    });

    it('gives a LoadBalancer Service an address from the pool that the client namespace reaches', async () => {
      lab.ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Service\nmetadata: {name: public}\nspec:\n  type: LoadBalancer\n  selector: {app: api}\n  ports: [{port: 80, targetPort: 8080}]\n');
      await eventually(() => /^public\s+LoadBalancer\s+\S+\s+192\.168\.49\.200\s+80:\d+\/TCP\s/m.test(lab.ok(['get', 'svc', 'public'])), 15_000, 'EXTERNAL-IP 192.168.49.200');
      const answer = await eventually(() => {
        const r = lab.curl('client', 'http://192.168.49.200/api/v1/lb', ['--max-time', '2']);
        return r.code === 0 ? JSON.parse(r.stdout) : undefined;
      }, 15_000, 'the LoadBalancer IP to answer');
      assert.match(answer.pod, /^api-server-/);
      assert.equal(answer.host, '192.168.49.200');
      lab.ok(['delete', 'svc', 'public']);
    });

    it('follows the Deployment scaling up and down in the rules within 2 s of the EndpointSlice', async () => {
      const readyInSlice = () => (lab.get('/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dapi-service').items as any[]).flatMap((s) => s.endpoints ?? []).filter((e: any) => e.conditions?.ready !== false).length;
      for (const replicas of [4, 2]) {
        lab.ok(['scale', 'deployment/api-server', `--replicas=${replicas}`]);
        await explained(lab, () => eventually(() => readyInSlice() === replicas, 30_000, `${replicas} ready endpoints in the EndpointSlice`));
        await explained(lab, () => eventually(() => endpointsInRules(rules(lab, mode), mode, 'api-service') === replicas, 2_000, `${replicas} endpoints in the rules`));
      }
    });

    it('deletes the conntrack entries of a UDP endpoint that went away, so the next datagram reaches the new one', async () => {
      lab.ok(['apply', '-f', '-'], udpEchoManifest);
      const ip = clusterIP('udp');
      // One datagram from the node, always from source port 40053: the same conntrack entry.
      const ask = () => udpEchoFromNode(lab, ip);
      const first = await explained(lab, () => eventually(() => ask(), 30_000, 'the UDP Service to answer'));
      lab.ok(['delete', 'pod', first!, '--wait=false']);
      const second = await explained(lab, () =>
        eventually(() => {
          const p = pods(lab, 'app=udp').find((x) => x.ready && !x.deleting && x.name !== first);
          return p && pods(lab, 'app=udp').length === 1 ? p : undefined;
        }, 30_000, 'the replacement pod alone'),
      );
      await sleep(1500);
      assert.equal(ask(), second!.name, 'the next datagram from the same source port reaches the new pod');
      assert.match(kubeProxyLog(lab, lab.name), /deleted \d+ stale UDP conntrack entries/);
      lab.ok(['delete', 'deployment', 'udp']);
      lab.ok(['delete', 'svc', 'udp']);
    });

    it(`shows upstream's layout in the node's ${mode === 'iptables' ? 'iptables-save' : 'nft list ruleset'}, /healthz on 10256 and /metrics on 10249`, async () => {
      const text = rules(lab, mode);
      if (mode === 'iptables') {
        assert.match(text, /^-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES$/m);
        assert.match(text, /^-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING$/m);
        assert.match(text, /^-A KUBE-NODEPORTS -p tcp -m comment --comment "default\/api-service" -m tcp --dport 30080 -j KUBE-EXT-JKKS4F2RVJTCP5JI$/m);
      } else {
        assert.match(text, /^table ip kube-proxy \{\n\tcomment "rules for kube-proxy"$/m);
        assert.match(text, /chain nat-prerouting \{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tjump services\n\t\}/);
        assert.match(text, /chain filter-prerouting-pre-dnat \{\n\t\ttype filter hook prerouting priority dstnat - 10; policy accept;\n\t\tct state new jump firewall-check\n\t\}/);
        assert.match(text, /tcp \. 30080 : goto external-\w{8}-default\/api-service\/tcp\//);
        assert.match(text, /set nodeport-ips \{\n\t\ttype ipv4_addr\n\t\tcomment "IPs that accept NodePort traffic"\n\t\telements = \{ 192\.168\.49\.2 \}/);
        const netns = readState(lab.name)!.nodes[0]!.netns;
        const ipt = spawnSync('ip', ['netns', 'exec', netns, 'iptables-save'], { encoding: 'utf8' }).stdout;
        assert.doesNotMatch(ipt, /KUBE-SERVICES/, 'nftables mode writes no iptables rules');
      }
      const hz = lab.curl('client', 'http://192.168.49.2:10256/healthz', ['-w', '\\n%{http_code}']).stdout.split('\n');
      assert.equal(hz[1], '200');
      assert.deepEqual(Object.keys(JSON.parse(hz[0]!)), ['lastUpdated', 'currentTime', 'nodeEligible', 'healthy', 'status']);
      // A node the cluster autoscaler is about to delete fails /healthz (load balancers move away); /livez stays 200.
      const healthz = () => lab.curl('client', 'http://192.168.49.2:10256/healthz', ['-w', '\\n%{http_code}']).stdout;
      lab.ok(['taint', 'nodes', lab.name, 'ToBeDeletedByClusterAutoscaler=1:NoSchedule']);
      try {
        await eventually(() => healthz().endsWith('\n503'), 10_000, '/healthz to answer 503 for a node marked for deletion');
        assert.match(healthz(), /"nodeEligible":false,"healthy":true/);
        assert.match(lab.curl('client', 'http://192.168.49.2:10256/livez', ['-w', '\\n%{http_code}']).stdout, /\n200$/);
      } finally {
        lab.ok(['taint', 'nodes', lab.name, 'ToBeDeletedByClusterAutoscaler-']);
      }
      await eventually(() => healthz().endsWith('\n200'), 10_000, '/healthz to recover');
      const metrics = lab.curl(`node/${lab.name}`, 'http://127.0.0.1:10249/metrics');
      assert.equal(metrics.code, 0, metrics.stderr);
      assert.match(metrics.stdout, /^# HELP kubeproxy_sync_proxy_rules_duration_seconds \[ALPHA\] SyncProxyRules latency in seconds$/m);
      assert.match(metrics.stdout, /^kubeproxy_sync_proxy_rules_duration_seconds_count [1-9]\d*$/m);
      assert.match(metrics.stdout, /^kubeproxy_sync_proxy_rules_last_timestamp_seconds \d/m);
      assert.match(metrics.stdout, /^kubeproxy_proxy_healthz_total\{code="200"\} [1-9]/m);
      assert.match(metrics.stdout, /^kubeproxy_proxy_healthz_total\{code="503"\} [1-9]/m);
      assert.match(metrics.stdout, /^kubeproxy_sync_proxy_rules_endpoint_changes_total [1-9]/m);
      if (mode === 'iptables') assert.match(metrics.stdout, /^kubeproxy_sync_proxy_rules_iptables_total\{table="nat"\} [1-9]/m);
      else assert.match(metrics.stdout, /^kubeproxy_sync_proxy_rules_nftables_sync_failures_total 0$/m);
      // A Service's endpoint changes are partial syncs.
      if (mode === 'iptables') assert.match(metrics.stdout, /^kubeproxy_sync_partial_proxy_rules_duration_seconds_count [1-9]/m);
    });

    it('keeps Service traffic working when kube-proxy is killed, and converges without duplicates after a restart', async () => {
      await eventually(() => !/default\/(sticky|nobody|public|udp)/.test(rules(lab, mode)), 15_000, 'the Services earlier tests deleted to leave the rules');
      const beforeKill = normalized(rules(lab, mode), mode);
      const killed = kubeProxyPod(lab, lab.name)!;
      assert.ok(killed.pid, 'the kube-proxy pod runs');
      process.kill(killed.pid!, 'SIGKILL');
      await sleep(300);
      assert.equal(hits('client', 'http://192.168.49.2:30080/api/v1/after-kill', 5).length, 5, 'new connections still succeed');
      // kube-proxy is the DaemonSet's pod: podpath restart proxy-NODE deletes it, the DaemonSet makes another
      const r = lab.podpath(['restart', `proxy-${lab.name}`]);
      assert.equal(r.code, 0, r.stderr);
      await explained(lab, () => eventually(() => kubeProxyPod(lab, lab.name)?.name !== killed.name && /proxier for \S+ started/.test(kubeProxyLog(lab, lab.name)), 30_000, 'the new kube-proxy pod to sync'));
      const afterRestart = normalized(rules(lab, mode), mode);
      assert.deepEqual(afterRestart, beforeKill, 'the same rules, none duplicated or left stale');
      if (mode === 'iptables') assert.equal(afterRestart.filter((l) => l === '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES').length, 1);
      else assert.equal(afterRestart.filter((l) => l === 'jump services').length, 2, 'nat-prerouting and nat-output jump once each');
    });
  });
}
