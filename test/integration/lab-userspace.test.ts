// kube-proxy in userspace mode in a real lab with the seed example: the same end-to-end
// behaviour as the rule modes (NodePort from the client, ClusterIP from a pod, hairpin, ClientIP
// affinity, refusal without endpoints, scaling), an endpoint killed mid-run without a failed
// new connection, per-Service schedulers and weights, and the live `ipvsadm` table; and
// `podpath trace --observe` of the NodePort request, kube-proxy's own connection a hop.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { labPaths, readState } from '../../src/lab/lab.ts';
import { eventually, repoRoot, sleep } from '../helpers/apiserver.ts';
import { observedNodePort } from '../helpers/trace.ts';
import { echoHits, explained, isRoot, kubeProxyLog, pods, serviceClusterIP, startLab, udpEcho, udpEchoFromNode, udpEchoManifest, type TestLab } from '../helpers/lab.ts';

const seed = path.join(repoRoot, 'examples/seed-001');

describe('kube-proxy in userspace mode, in a lab with the seed example', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  before(async () => {
    lab = await startLab({ files: [seed], proxyMode: 'userspace', args: ['--no-netpol'] });
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
  });

  const hits = (from: string, url: string, n: number) => echoHits(lab, from, url, n);
  const clusterIP = (name: string) => serviceClusterIP(lab, name);
  const table = (extra: string[] = []) => {
    const r = lab.podpath(['proxy', 'ipvsadm', ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  // First, on the lab as it came up: `podpath trace --observe` follows kube-proxy's own connection
  it("traces the NodePort request: kube-proxy's own connection from the node to the pod that answered, computed and observed", () => explained(lab, async () => void (await observedNodePort(lab, 'userspace'))));

  it('reaches both pods through the NodePort 192.168.49.2:30080 from the client namespace', () =>
    explained(lab, async () => {
      // `up` returns once the NodePort answers, which one endpoint is enough for: the second pod's
      // endpoint may reach the proxy a sync (min-sync-period 1 s) later.
      const all = new Set(pods(lab, 'app=api').map((p) => p.name));
      let got = hits('client', 'http://192.168.49.2:30080/api/v1/x', 10);
      await eventually(() => {
        got = hits('client', 'http://192.168.49.2:30080/api/v1/x', 10);
        return new Set(got.map((g) => g.pod)).size === all.size;
      }, 10_000, 'both pods behind the NodePort');
      assert.deepEqual(new Set(got.map((g) => g.pod)), all);
      // The proxy connects onward from the node: the pods see the node's address, not the client's.
      assert.ok(got.every((g) => !g.client.startsWith('192.168.49.100:')), JSON.stringify(got));
    }));

  it('reaches both pods through the ClusterIP from a pod, itself included (hairpin)', () =>
    explained(lab, async () => {
      const [a] = pods(lab, 'app=api');
      const got = hits(`pod/default/${a!.name}`, `http://${clusterIP('api-service')}:8080/api/v1/x`, 10);
      assert.deepEqual(new Set(got.map((g) => g.pod)), new Set(pods(lab, 'app=api').map((p) => p.name)));
    }));

  it('shows the live table in ipvsadm -Ln format, with connection totals in --stats', () =>
    explained(lab, async () => {
      const t = table();
      assert.match(t, /^IP Virtual Server version 1\.2\.1 \(size=4096\)\nProt LocalAddress:Port Scheduler Flags\n {2}-> RemoteAddress:Port {11}Forward Weight ActiveConn InActConn\n/);
      const ip = clusterIP('api-service');
      assert.match(t, new RegExp(`^TCP  ${ip.replace(/\./g, '\\.')}:8080 rr\\n(  -> 10\\.244\\.0\\.\\d+:8080 +Masq    1 .*\\n){2}`, 'm'));
      assert.match(t, /^UDP  10\.96\.0\.10:53 rr$/m);
      assert.match(table(['--stats']), new RegExp(`^TCP  ${ip.replace(/\./g, '\\.')}:8080 +[1-9]\\d* `, 'm'));
    }));

  it('keeps a client on one pod with sessionAffinity ClientIP (persistent in the table)', () =>
    explained(lab, async () => {
      lab.ok(['patch', 'svc', 'api-service', '-p', '{"spec":{"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}}}}']);
      await eventually(() => /TCP {2}\S+:8080 rr persistent 60/.test(table()), 10_000, 'persistence in the table');
      const got = hits('client', 'http://192.168.49.2:30080/api/v1/x', 10);
      assert.equal(new Set(got.map((g) => g.pod)).size, 1, JSON.stringify(got.map((g) => g.pod)));
      lab.ok(['patch', 'svc', 'api-service', '-p', '{"spec":{"sessionAffinity":"None","sessionAffinityConfig":null}}']);
      await eventually(() => !/persistent/.test(table()), 10_000, 'persistence gone');
    }));

  it('refuses connections at once to a Service without endpoints', () =>
    explained(lab, async () => {
      lab.ok(['create', 'service', 'clusterip', 'nobody', '--tcp=80:8080']);
      const ip = clusterIP('nobody');
      await eventually(() => table().includes(`TCP  ${ip}:80 rr`), 10_000, 'the empty virtual server');
      const r = lab.curl(`pod/default/${pods(lab, 'app=api')[0]!.name}`, `http://${ip}:80/`);
      assert.equal(r.code, 7, `curl exit ${r.code}: ${r.stderr}`);
      lab.ok(['delete', 'service', 'nobody']);
    }));

  it('answers a LoadBalancer IP from the client (the announcing node holds it; strictARP keeps the others quiet)', () =>
    explained(lab, async () => {
      lab.ok(['apply', '-f', '-'], `apiVersion: v1
kind: Service
metadata: {name: public}
spec:
  type: LoadBalancer
  selector: {app: api}
  ports: [{port: 80, targetPort: 8080}]
`);
      const lbIP = (await eventually(() => lab.get('/api/v1/namespaces/default/services/public').status?.loadBalancer?.ingress?.[0]?.ip as string | undefined, 15_000, 'an EXTERNAL-IP'))!;
      const answer = await eventually(() => {
        const r = lab.curl('client', `http://${lbIP}/api/v1/lb`, ['--max-time', '2']);
        return r.code === 0 ? JSON.parse(r.stdout) : undefined;
      }, 15_000, 'the LoadBalancer IP to answer');
      assert.match(answer.pod, /^api-server-/);
      assert.match(table(), new RegExp(`^TCP  ${lbIP.replace(/\./g, '\\.')}:80 rr$`, 'm'));
      lab.ok(['delete', 'svc', 'public']);
    }));

  it('sends the next UDP datagram from the same source port to the replacement of a deleted endpoint', () =>
    explained(lab, async () => {
      lab.ok(['apply', '-f', '-'], udpEchoManifest);
      const ip = clusterIP('udp');
      const ask = () => udpEchoFromNode(lab, ip);
      const first = await eventually(() => ask(), 30_000, 'the UDP Service to answer');
      lab.ok(['delete', 'pod', first!, '--wait=false']);
      const second = await eventually(() => {
        const p = pods(lab, 'app=udp').find((x) => x.ready && !x.deleting && x.name !== first);
        return p && pods(lab, 'app=udp').length === 1 ? p : undefined;
      }, 30_000, 'the replacement pod alone');
      await sleep(1500);
      // The session to the old endpoint ended with it (idle timeout); the next one picks the new pod.
      assert.equal(ask(), second!.name);
      lab.ok(['delete', 'deployment', 'udp']);
      lab.ok(['delete', 'service', 'udp']);
    }));

  it('keeps the client\'s address and port for externalTrafficPolicy Local, over TCP and UDP', () =>
    explained(lab, async () => {
      lab.ok(['apply', '-f', '-'], `${udpEchoManifest}---
apiVersion: v1
kind: Service
metadata: {name: udp-local}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: udp}
  ports: [{port: 53, targetPort: 5300, protocol: UDP, nodePort: 30053}]
---
apiVersion: v1
kind: Service
metadata: {name: api-local}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: api}
  ports: [{port: 80, targetPort: 8080, nodePort: 30081}]
`);
      const udp = await eventually(() => udpEcho(lab, 'client', '192.168.49.2', 30053), 30_000, 'the Local UDP NodePort to answer');
      assert.equal(udp!.client, '192.168.49.100:40053', 'the pod sees the client\'s own address and port');
      // The same client port through the Cluster-policy Service: the node's address instead.
      assert.notEqual(udpEcho(lab, 'node', clusterIP('udp'), 53)?.client.split(':')[0], '192.168.49.100');
      await eventually(() => lab.curl('client', 'http://192.168.49.2:30081/').code === 0, 10_000, 'the Local TCP NodePort to answer');
      const got = hits('client', 'http://192.168.49.2:30081/api/v1/x', 4);
      assert.ok(got.every((g) => g.client.startsWith('192.168.49.100:')), JSON.stringify(got));
      // From the node itself (its own address, its port already taken by the client's socket) and
      // from a pod on the node's bridge (proxied from the node): both still answered.
      const fromNode = hits(`node/${readState(lab.name)!.nodes[0]!.name}`, 'http://192.168.49.2:30081/api/v1/x', 2);
      assert.ok(fromNode.every((g) => g.client.startsWith('192.168.49.2:')), JSON.stringify(fromNode));
      const [a] = pods(lab, 'app=api');
      const fromPod = hits(`pod/default/${a!.name}`, 'http://192.168.49.2:30081/api/v1/x', 4);
      assert.ok(fromPod.length === 4 && fromPod.every((g) => !g.client.startsWith(`${a!.ip}:`)), JSON.stringify(fromPod));
      lab.ok(['delete', 'deployment', 'udp']);
      lab.ok(['delete', 'service', 'udp', 'udp-local', 'api-local']);
    }));

  it('follows scaling 2 → 4 → 2 in the table once the EndpointSlice changes', () =>
    explained(lab, async () => {
      const ip = clusterIP('api-service');
      const inTable = () => {
        const lines = (table().split(`TCP  ${ip}:8080 `)[1] ?? '').split('\n').slice(1);
        const end = lines.findIndex((l) => !l.startsWith('  -> '));
        return end < 0 ? lines.length : end;
      };
      for (const replicas of [4, 2]) {
        lab.ok(['scale', 'deployment/api-server', `--replicas=${replicas}`]);
        const slice = await eventually(() => {
          const n = lab.ok(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=api-service', '-o', 'jsonpath={range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]} {end}']).trim().split(' ').filter(Boolean).length;
          return n === replicas ? Date.now() : undefined;
        }, 60_000, `${replicas} ready endpoints`);
        // how fast is bench/'s business (proxy-lab.ts); here: it follows
        await eventually(() => (inTable() === replicas ? Date.now() : undefined), 10_000, `${replicas} real servers`);
        assert.ok(slice);
      }
    }));

  it('sends no new connection to a killed endpoint: a failed connect moves on to the next', () =>
    explained(lab, async () => {
      await eventually(() => pods(lab, 'app=api').filter((p) => p.ready && !p.deleting).length === 2, 60_000, '2 ready pods');
      const victim = pods(lab, 'app=api')[0]!;
      // The container's process, as the node agent recorded it (the agent started it; the suite started the agent).
      const stateDir = path.join(labPaths(lab.name).dir, 'nodes', readState(lab.name)!.nodes[0]!.name, 'pods');
      const uid = lab.get(`/api/v1/namespaces/default/pods/${victim.name}`).metadata.uid as string;
      const pid = (JSON.parse(fs.readFileSync(path.join(stateDir, `${uid}.json`), 'utf8')) as { containers: Record<string, { pid?: number }> }).containers.api!.pid!;
      const url = 'http://192.168.49.2:30080/health';
      // Each line: when the request started (ms since the epoch) and its status.
      const loop = `for i in $(seq 120); do t=$(date +%s%3N); c=$(curl -s -o /dev/null -w '%{http_code}' -H 'Connection: close' --max-time 3 ${url}); echo "$t $c"; sleep 0.02; done`;
      const runner = new Promise<string>((resolve) => {
        const p = spawn('ip', ['netns', 'exec', readState(lab.name)!.client, 'sh', '-c', loop], { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.on('close', () => resolve(out));
      });
      await sleep(500);
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      const lines = (await runner).trim().split('\n').map((l) => l.split(' ') as [string, string]);
      assert.equal(lines.length, 120);
      // A connection the victim's kernel had already accepted when it died can only be reset (no
      // proxy can retry it): the one request in flight at the kill may fail; none started after it.
      const after = lines.filter(([t]) => Number(t) > killedAt);
      const inFlight = lines.filter(([t, c]) => Number(t) <= killedAt && c !== '200');
      assert.ok(after.length >= 100, `${after.length} requests after the kill`);
      assert.deepEqual([...new Set(after.map(([, c]) => c))], ['200'], `responses: ${lines.map(([, c]) => c).join(' ')}`);
      assert.ok(inFlight.length <= 1, `${inFlight.length} requests failed before the kill: ${lines.map(([, c]) => c).join(' ')}`);
    }));

  it('balances by a Service\'s own scheduler and weights (wrr 2:1), and counts per endpoint in /metrics', () =>
    explained(lab, async () => {
      await eventually(() => pods(lab, 'app=api').filter((p) => p.ready && !p.deleting).length === 2, 60_000, '2 ready pods');
      const [a, b] = pods(lab, 'app=api').filter((p) => p.ready && !p.deleting);
      lab.ok(['annotate', 'svc', 'api-service', 'proxy.podpath.dev/scheduler=wrr', `proxy.podpath.dev/weights=${a!.name}=2,${b!.ip}=1`, '--overwrite']);
      await eventually(() => /TCP {2}\S+:30080 wrr/.test(table()), 10_000, 'wrr in the table');
      assert.match(table(), new RegExp(`-> ${a!.ip.replace(/\./g, '\\.')}:8080 +Masq {4}2 `));
      const got = hits('client', 'http://192.168.49.2:30080/api/v1/x', 30);
      const count = (name: string) => got.filter((g) => g.pod === name).length;
      assert.deepEqual([count(a!.name), count(b!.name)], [20, 10]);
      const m = lab.exec(`node/${readState(lab.name)!.nodes[0]!.name}`, ['curl', '-s', 'http://127.0.0.1:10249/metrics']).stdout;
      assert.match(m, new RegExp(`podpath_proxy_endpoint_connections_total\\{service="default/api-service TCP 0\\.0\\.0\\.0:30080",endpoint="${a!.ip.replace(/\./g, '\\.')}:8080"\\} \\d+`));
      const hz = lab.exec(`node/${readState(lab.name)!.nodes[0]!.name}`, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:10256/healthz']).stdout;
      assert.equal(hz, '200');
    }));

  it('says which proxier it uses, as upstream logs it, and sets strict ARP as the lab asks (ipvs.strictARP in its ConfigMap)', () =>
    explained(lab, async () => {
      const node = readState(lab.name)!.nodes[0]!;
      assert.match(kubeProxyLog(lab, node.name), /Using userspace Proxier/);
      assert.equal(lab.exec(`node/${node.name}`, ['sysctl', '-n', 'net.ipv4.conf.all.arp_ignore']).stdout.trim(), '1');
      assert.equal(lab.exec(`node/${node.name}`, ['sysctl', '-n', 'net.ipv4.conf.all.arp_announce']).stdout.trim(), '2');
    }));
});
