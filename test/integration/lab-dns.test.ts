// The cluster DNS in a real lab: CoreDNS pods behind kube-dns 10.96.0.10 through kube-proxy,
// pods resolving Service names through their search path, headless answers following scaling,
// hostname+subdomain records, ExternalName, forwarding to the node's resolver, resolv.conf per
// dnsPolicy, and CoreDNS's metrics from a DNS pod.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EndpointSlice } from '../../src/api/types.ts';
import { readState } from '../../src/lab/lab.ts';
import { eventually, repoRoot } from '../helpers/apiserver.ts';
import { explained, isRoot, pods, startLab, type TestLab } from '../helpers/lab.ts';

const files = [path.join(repoRoot, 'examples/seed-001'), path.join(repoRoot, 'test/fixtures/dns-lab.yaml')];

describe('cluster DNS in a lab', { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  /** A command in pod default/<pod>'s namespace (its resolv.conf and hosts); stdout. */
  const inPod = (pod: string, argv: string[], ns = 'default') => {
    const r = lab.exec(`pod/${ns}/${pod}`, argv);
    return { ...r, out: r.stdout.trim() };
  };
  let client: string;

  before(async () => {
    lab = await startLab({ files, args: ['--no-netpol'] });
    client = pods(lab, 'app=api')[0]!.name;
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
  });

  it('runs CoreDNS as Deployment kube-system/coredns (one replica on a single node, as minikube scales it) behind kube-dns 10.96.0.10 UDP/TCP 53', () =>
    explained(lab, async () => {
      const dep = JSON.parse(lab.ok(['-n', 'kube-system', 'get', 'deployment', 'coredns', '-o', 'json']));
      assert.equal(dep.status.readyReplicas, 1);
      const svc = JSON.parse(lab.ok(['-n', 'kube-system', 'get', 'service', 'kube-dns', '-o', 'json']));
      assert.equal(svc.spec.clusterIP, '10.96.0.10');
      assert.deepEqual(svc.spec.ports.map((p: { name: string; port: number; protocol: string }) => `${p.name} ${p.port}/${p.protocol}`), ['dns 53/UDP', 'dns-tcp 53/TCP', 'metrics 9153/TCP']);
      assert.equal(lab.ok(['-n', 'kube-system', 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=kube-dns', '-o', 'jsonpath={.items[*].endpoints[*].addresses[0]}']).split(' ').length, 1);
    }));

  it('writes ClusterFirst resolv.conf, and the None and Default policies as the kubelet does', () =>
    explained(lab, async () => {
      assert.equal(inPod(client, ['cat', '/etc/resolv.conf']).out, 'nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5');
      assert.equal(inPod('custom-dns', ['cat', '/etc/resolv.conf']).out, 'nameserver 10.96.0.10\nsearch default.svc.cluster.local\noptions ndots:2');
      // Default: the node's resolv.conf, which names the lab's resolver on the router.
      assert.equal(inPod('node-dns', ['cat', '/etc/resolv.conf']).out, 'nameserver 192.168.49.1');
    }));

  it('from a pod, curl http://api-service:8080/health works through the search path', () =>
    explained(lab, async () => {
      const r = lab.curl(`pod/default/${client}`, 'http://api-service:8080/health');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /"status":"healthy"/);
    }));

  it('getent hosts kubernetes.default answers 10.96.0.1; dig reaches kube-dns over UDP and TCP', () =>
    explained(lab, async () => {
      assert.match(inPod(client, ['getent', 'hosts', 'kubernetes.default']).out, /^10\.96\.0\.1\s+kubernetes\.default\.svc\.cluster\.local$/);
      const udp = inPod(client, ['dig', '+search', '+short', 'kube-dns.kube-system']);
      assert.equal(udp.out, '10.96.0.10');
      assert.equal(inPod(client, ['dig', '+tcp', '+short', 'api-service.default.svc.cluster.local']).out, lab.get('/api/v1/namespaces/default/services/api-service').spec.clusterIP);
      assert.equal(inPod(client, ['dig', '+short', '_https._tcp.kubernetes.default.svc.cluster.local', 'SRV']).out, '0 100 443 kubernetes.default.svc.cluster.local.');
      assert.equal(inPod(client, ['dig', '+short', '-x', '10.96.0.1']).out, 'kubernetes.default.svc.cluster.local.');
    }));

  it("a headless Service's answer follows scaling within 2 s of the EndpointSlice", () =>
    explained(lab, async () => {
      // dig from the client pod's namespace straight at kube-dns (nsenter: a few ms a query).
      const uid = lab.get(`/api/v1/namespaces/default/pods/${client}`).metadata.uid as string;
      const netns = `${readState(lab.name)!.podNetnsPrefix}${uid.replace(/-/g, '').slice(0, 8)}`;
      const answer = () => spawnSync('nsenter', [`--net=/run/netns/${netns}`, 'dig', '@10.96.0.10', '+short', '+time=1', '+tries=1', 'pets.default.svc.cluster.local'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).sort();
      const slices = () => JSON.parse(lab.ok(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=pets', '-o', 'json'])).items as EndpointSlice[];
      for (const replicas of [3, 1]) {
        lab.ok(['scale', 'deployment/pets', `--replicas=${replicas}`]);
        // The Deployment's ready pods plus the hostname pod (querier), which also matches app=pets:
        // poll the DNS alone (a few ms a query) until it answers that many...
        const seen = (await eventually((): number | undefined => (answer().length === replicas + 1 ? Date.now() : undefined), 60_000, `DNS answering ${replicas + 1} addresses`))!;
        const got = answer();
        // ...then check that the EndpointSlice says the same, and when the controller wrote it.
        const ready = (await eventually(() => {
          const ips = slices().flatMap((sl) => sl.endpoints.filter((e) => e.conditions?.ready).map((e) => e.addresses[0]!)).sort();
          return JSON.stringify(ips) === JSON.stringify(got) ? ips : undefined;
        }, 10_000, 'the EndpointSlice to match the answer'))!;
        assert.equal(ready.length, replicas + 1);
        const written = Math.max(...slices().map((sl) => Date.parse(sl.metadata.annotations?.['endpoints.kubernetes.io/last-change-trigger-time'] ?? '')));
        assert.ok(Number.isFinite(written), 'the slice carries its trigger time');
        assert.ok(seen - written <= 2000, `DNS followed the slice ${seen - written} ms after it was written`);
      }
    }));

  it('answers a pod hostname+subdomain under its headless Service, and SRV targets for it', () =>
    explained(lab, async () => {
      const ip = pods(lab, 'app=pets').find((p) => p.name === 'querier')!.ip;
      assert.equal(inPod(client, ['dig', '+short', 'dns-querier-1.pets.default.svc.cluster.local']).out, ip);
      assert.match(inPod(client, ['dig', '+short', '_http._tcp.pets.default.svc.cluster.local', 'SRV']).out, /^0 \d+ 8080 dns-querier-1\.pets\.default\.svc\.cluster\.local\.$/m);
      // The pod's own hosts file names it by its FQDN too.
      assert.match(inPod('querier', ['getent', 'hosts', 'dns-querier-1.pets.default.svc.cluster.local']).out, new RegExp(`^${ip.replace(/\./g, '\\.')}\\s`));
    }));

  it('answers an ExternalName Service with its CNAME, the target resolved by the upstream', () =>
    explained(lab, async () => {
      assert.equal(inPod(client, ['dig', '+short', 'outside.default.svc.cluster.local', 'CNAME']).out, 'client.lab.');
      assert.equal(inPod(client, ['dig', '+short', 'outside.default.svc.cluster.local']).out, 'client.lab.\n192.168.49.100');
    }));

  it("forwards other names to the node's resolver (the lab router), and says REFUSED/NXDOMAIN at once", () =>
    explained(lab, async () => {
      assert.equal(inPod(client, ['dig', '+short', 'client.lab']).out, '192.168.49.100');
      assert.match(inPod(client, ['dig', 'example.com']).stdout, /status: REFUSED/);
      assert.match(inPod(client, ['dig', 'nothing.lab']).stdout, /status: NXDOMAIN/);
      assert.match(inPod(client, ['dig', 'nothing.default.svc.cluster.local']).stdout, /status: NXDOMAIN/);
    }));

  it("serves CoreDNS's /metrics, /health and /ready from a DNS pod", () =>
    explained(lab, async () => {
      const podName = lab.ok(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=kube-dns', '-o', 'jsonpath={.items[0].metadata.name}']);
      const m = inPod(podName, ['curl', '-sS', 'http://127.0.0.1:9153/metrics'], 'kube-system');
      assert.match(m.out, /coredns_dns_requests_total\{server="dns:\/\/:53",zone="\.",view="",proto="udp",family="1",type="A"\} \d+/);
      assert.match(m.out, /coredns_kubernetes_dns_programming_duration_seconds_count\{service_kind="headless_with_selector"\} \d+/);
      assert.equal(inPod(podName, ['curl', '-sS', 'http://127.0.0.1:8080/health'], 'kube-system').out, 'OK');
      assert.equal(inPod(podName, ['curl', '-sS', 'http://127.0.0.1:8181/ready'], 'kube-system').out, 'OK');
    }));
});
