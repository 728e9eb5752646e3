// Seed 000's external path in a real one-node lab: the client resolves app.example.com through the
// lab's DNS, reaches the LoadBalancer IP, kube-proxy hands the connection to the ingress-nginx
// controller pod, and its nginx proxies to an app pod — over TLS with the lab CA's certificate.
// Then what the issue asks of the controller live: endpoints change without reloads while a
// client keeps sending, new Ingresses are served, and broken Ingresses leave the rest serving.
// `podpath trace --observe` follows the same request through the controller's own connection.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers/apiserver.ts';
import { echoHits, explained, isRoot, pods, startLab, type TestLab } from '../helpers/lab.ts';
import { assertNothingLeft, traceJson } from '../helpers/trace.ts';

/** `eventually` polls for a truthy value: an assertion that passes is one. */
const holds = (check: () => void) => (): true => {
  check();
  return true;
};

const root = path.resolve(import.meta.dirname, '../..');
const podpathBin = path.join(root, 'bin/podpath.js');

const ingressFor = (name: string, host: string, service = 'app-service', annotations: Record<string, string> = {}, p = '/') => `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  annotations: ${JSON.stringify(annotations)}
spec:
  rules:
  - host: ${host}
    http:
      paths:
      - {path: "${p}", pathType: ${p.includes('(') ? 'ImplementationSpecific' : 'Prefix'}, backend: {service: {name: ${service}, port: {number: 80}}}}
`;

describe('lab: Ingress (seed 000)', { skip: !isRoot && 'needs root' }, () => {
  let lab: TestLab;
  let lbIP: string;
  let controllerPod: { name: string; ip: string };

  before(async () => {
    lab = await startLab({ files: [path.join(root, 'examples/seed-000')], ingress: true, args: ['--no-netpol'] });
    lbIP = lab.ok(['get', 'svc', '-n', 'ingress-nginx', 'ingress-nginx-controller', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']);
    const c = JSON.parse(lab.ok(['get', 'pods', '-n', 'ingress-nginx', '-l', 'app.kubernetes.io/component=controller', '-o', 'json'])) as { items: { metadata: { name: string }; status: { podIP: string } }[] };
    controllerPod = { name: c.items[0]!.metadata.name, ip: c.items[0]!.status.podIP };
  });
  after(async () => {
    await lab?.down();
  });

  /** the controller's /metrics, read from the node */
  const metric = (name: string): number => {
    const out = lab.curl(`node/${lab.name}`, `http://${controllerPod.ip}:10254/metrics`).stdout;
    const line = out.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    return line ? Number(line.split(' ').at(-1)) : NaN;
  };
  /** the HTTP status of one request from the client (the lab's DNS and CA) */
  const status = (url: string, extra: string[] = []): string => lab.curl('client', url, ['-o', '/dev/null', '-w', '%{http_code}', ...extra]).stdout;

  // First, while nginx holds no kept-alive connection to an app pod; then over one it holds.
  it("traces seed 000's request: the client reaches the controller through the LoadBalancer IP and nginx connects on to the app pod that answered, as computed", () =>
    explained(lab, async () => {
      const { code, t, stderr } = traceJson(lab, ['--from', 'client', '--to', 'https://app.example.com/api/v1/hello', '--observe']);
      assert.equal(code, 0, `${stderr}\n${JSON.stringify(t.observed?.differences)}`);
      const o = t.observed!;
      assert.deepEqual(o.differences, []);
      assert.equal(o.verdict, 'delivered');
      const answer = JSON.parse(o.probe.answer!.replace(/^HTTP 200 /, '')) as { pod: string; client: string };
      assert.equal(t.endpoint?.pod, `default/${answer.pod}`);
      // the controller's own connection is a hop, seen, from the controller's address as the app saw it
      const onward = o.hops.find((h) => h.kind === 'ingress') as unknown as { computed: number; packet: { after: { src: string; srcPort: number } } };
      assert.equal(t.hops[onward.computed - 1]!.kind, 'ingress');
      assert.equal(`${onward.packet.after.src}:${onward.packet.after.srcPort}`, answer.client);
      assert.deepEqual(t.hops.filter((h) => h.observed === false), []);
      // Again, right after a burst of requests that leaves each nginx worker a kept-alive
      // connection to each app pod (which closes it after 5 s idle), until nginx sends the probe's
      // request over one of them: computed as an established connection's packets, still no difference.
      let reused = false;
      for (let i = 0; i < 4 && !reused; i++) {
        // a client connection per request, so every worker gets some
        echoHits(lab, 'client', 'https://app.example.com/api/v1/hello', 12);
        const again = traceJson(lab, ['--from', 'client', '--to', 'https://app.example.com/api/v1/hello', '--observe']);
        assert.deepEqual([again.code, again.t.observed?.differences], [0, []], again.stderr);
        reused = again.t.observed!.hops.some((h) => h.reused);
        if (reused) assert.match(again.t.hops.find((h) => h.kind === 'ingress')!.note, /over a connection it holds open already/);
      }
      assert.ok(reused, 'nginx sent a request on over a kept-alive connection');
      assertNothingLeft(lab);
    }));

  it('serves https://app.example.com/ from the client through DNS, the LoadBalancer IP, the controller and the app pods, with the certificate verified', () =>
    explained(lab, async () => {
      assert.match(lbIP, /^192\.168\.49\.2\d\d$/);
      // the controller publishes the Service's address; kubectl shows it as ADDRESS
      await eventually(holds(() => assert.match(lab.ok(['get', 'ingress', 'my-ingress']), new RegExp(`my-ingress\\s+nginx\\s+app\\.example\\.com\\s+${lbIP.replace(/\./g, '\\.')}\\s+80, 443`))));
      assert.equal(lab.exec('client', ['getent', 'hosts', 'app.example.com']).stdout.split(/\s+/)[0], lbIP);
      const app = new Set(pods(lab, 'app=app').map((p) => p.name));
      const seen = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const r = lab.curl('client', 'https://app.example.com/api/v1/hello');
        assert.equal(r.code, 0, r.stderr); // curl verified the lab CA's certificate for app.example.com
        const body = JSON.parse(r.stdout) as { pod: string; client: string };
        assert.ok(app.has(body.pod), body.pod);
        // traffic goes to the pod IPs (seed 000 steps 7-8): the app sees the controller pod, not a ClusterIP hop
        assert.equal(body.client.split(':')[0], controllerPod.ip);
        seen.add(body.pod);
      }
      assert.ok(seen.size >= 2, `the balancer spread requests over the pods: ${[...seen].join(', ')}`);
      // http is redirected to https (308) for a host with TLS
      const r = lab.curl('client', 'http://app.example.com/x?y=1', ['-o', '/dev/null', '-w', '%{http_code} %{redirect_url}']);
      assert.equal(r.stdout, '308 https://app.example.com/x?y=1');
    }));

  it("runs the controller as ingress-nginx's service account, with ingress-nginx's ClusterRole and Role", () => {
    const can = (args: string[]) => lab.kubectl(['auth', 'can-i', ...args, '--as=system:serviceaccount:ingress-nginx:ingress-nginx']).stdout.trim();
    for (const args of [['watch', 'ingresses.networking.k8s.io', '-A'], ['update', 'ingresses.networking.k8s.io', '--subresource=status', '-n', 'default'], ['list', 'secrets', '-A'], ['create', 'events', '-n', 'default'], ['get', 'leases.coordination.k8s.io/ingress-nginx-leader', '-n', 'ingress-nginx']]) assert.equal(can(args), 'yes', args.join(' '));
    for (const args of [['patch', 'ingresses.networking.k8s.io', '-n', 'default'], ['create', 'pods', '-n', 'default'], ['get', 'leases.coordination.k8s.io/other', '-n', 'ingress-nginx']]) assert.equal(can(args), 'no', args.join(' '));
  });

  it('shows its generated /etc/nginx/nginx.conf inside the controller pod, and ingress-nginx access log lines in kubectl logs', () =>
    explained(lab, async () => {
      const conf = lab.exec(`pod/ingress-nginx/${controllerPod.name}`, ['cat', '/etc/nginx/nginx.conf']);
      assert.equal(conf.code, 0, conf.stderr);
      assert.match(conf.stdout, /server_name app\.example\.com ;/);
      assert.match(conf.stdout, /location \/ \{ # default\/my-ingress app\.example\.com\/ \(Prefix\)/);
      assert.equal(lab.exec(`pod/ingress-nginx/${controllerPod.name}`, ['test', '-f', '/etc/nginx/mime.types']).code, 1, "the pod's /etc/nginx is its own, not the host's");
      status('https://app.example.com/health');
      await eventually(holds(() => {
        const logs = lab.ok(['logs', '-n', 'ingress-nginx', 'deploy/ingress-nginx-controller']);
        // $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr ...
        assert.match(logs, /^192\.168\.49\.100 - - \[[^\]]+\] "GET \/health HTTP\/1\.1" 200 \d+ "-" "curl\/[^"]+" \d+ [\d.]+ \[default-app-service-80\] \[\] 10\.244\.\d+\.\d+:8080 \d+ [\d.]+ 200 [0-9a-f]{32}$/m);
      }));
    }));

  it('scales the backend 3 → 6 → 2 under a steady client with no failed request and no reload', () =>
    explained(lab, async () => {
      const reloads = metric('nginx_ingress_controller_success');
      // a client in the lab's client namespace: 400 requests at 20 a second over one kept-alive connection
      const urls = Array.from({ length: 400 }, () => 'https://app.example.com/health');
      const client = spawn(process.execPath, [podpathBin, 'curl', '--name', lab.name, '--rate', '20/s', '-w', '\\ncode=%{http_code}\\n', ...urls]);
      let out = '';
      client.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const done = new Promise<void>((r) => client.on('exit', () => r()));
      lab.ok(['scale', 'deployment/app', '--replicas=6']);
      await eventually(holds(() => assert.equal(pods(lab, 'app=app').filter((p) => p.ready).length, 6)), 30_000);
      lab.ok(['scale', 'deployment/app', '--replicas=2']);
      await eventually(holds(() => assert.equal(pods(lab, 'app=app').length, 2)), 30_000);
      await done;
      const codes = out.split('\n').filter((l) => l.startsWith('code=')).map((l) => l.slice(5));
      assert.equal(codes.length, 400);
      assert.deepEqual(codes.filter((c) => c !== '200'), [], 'every request answered 200');
      assert.equal(metric('nginx_ingress_controller_success'), reloads, 'endpoint changes reached nginx without a reload');
      assert.ok(metric('podpath_ingress_endpoint_updates_total') > 0);
    }));

  // How soon is bench/ingress.ts's to measure; a time bound here would fail on a loaded machine.
  it('serves each of 10 new Ingresses, created one by one, with the earlier ones still served', () =>
    explained(lab, async () => {
      for (let i = 0; i < 10; i++) {
        const host = `h${i}.example.com`;
        lab.ok(['apply', '-f', '-'], ingressFor(`h${i}`, host));
        await eventually(holds(() => assert.equal(status(`http://${host}/health`, ['--resolve', `${host}:80:${lbIP}`]), '200')), 20_000);
      }
      for (let i = 0; i < 10; i++) assert.equal(status(`http://h${i}.example.com/health`, ['--resolve', `h${i}.example.com:80:${lbIP}`]), '200');
    }));

  it('leaves every other route serving when an Ingress is broken: a bad annotation value, a missing Service, a configuration nginx refuses', () =>
    explained(lab, async () => {
      lab.ok(['apply', '-f', '-'], ingressFor('bad-annotation', 'bad1.example.com', 'app-service', { 'nginx.ingress.kubernetes.io/proxy-body-size': 'lots' }));
      lab.ok(['apply', '-f', '-'], ingressFor('no-service', 'bad2.example.com', 'nowhere'));
      lab.ok(['apply', '-f', '-'], ingressFor('bad-regex', 'bad3.example.com', 'app-service', { 'nginx.ingress.kubernetes.io/use-regex': 'true' }, '/foo('));
      lab.ok(['apply', '-f', '-'], ingressFor('after-the-bad-ones', 'good.example.com'));
      await eventually(holds(() => {
        const events = lab.ok(['get', 'events', '--field-selector', 'involvedObject.kind=Ingress', '-o', 'custom-columns=OBJ:.involvedObject.name,REASON:.reason', '--no-headers']);
        assert.match(events, /bad-annotation\s+InvalidAnnotation/);
        assert.match(events, /no-service\s+ServiceNotFound/);
        assert.match(events, /bad-regex\s+RejectedByNginx/);
        // the Event says what nginx said
        assert.match(lab.ok(['get', 'events', '--field-selector', 'involvedObject.name=bad-regex,reason=RejectedByNginx', '-o', 'jsonpath={.items[0].message}']), /pcre2?_compile\(\) failed: missing closing parenthesis/);
      }), 15_000);
      await eventually(holds(() => assert.equal(status('http://good.example.com/health', ['--resolve', `good.example.com:80:${lbIP}`]), '200')));
      assert.equal(status('https://app.example.com/health'), '200');
      assert.equal(status('http://bad2.example.com/health', ['--resolve', `bad2.example.com:80:${lbIP}`]), '503');
      // the skipped Ingresses are not served: their hosts fall to the default server's 404
      assert.equal(status('http://bad1.example.com/health', ['--resolve', `bad1.example.com:80:${lbIP}`]), '404');
      assert.equal(status('http://bad3.example.com/foo', ['--resolve', `bad3.example.com:80:${lbIP}`]), '404');
      assert.equal(metric('nginx_ingress_controller_config_last_reload_successful'), 1);
      // mending the broken one brings it in
      lab.ok(['apply', '-f', '-'], ingressFor('bad-regex', 'bad3.example.com', 'app-service', { 'nginx.ingress.kubernetes.io/use-regex': 'true', 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' }, '/foo(/|$)(.*)'));
      await eventually(holds(() => assert.equal(status('http://bad3.example.com/foo/health', ['--resolve', `bad3.example.com:80:${lbIP}`]), '200')));
      const requests = lab.curl(`node/${lab.name}`, `http://${controllerPod.ip}:10254/metrics`).stdout;
      assert.match(requests, /nginx_ingress_controller_requests\{canary="",controller_class="k8s\.io\/ingress-nginx",controller_namespace="ingress-nginx",controller_pod="[^"]+",host="app\.example\.com",ingress="my-ingress",method="GET",namespace="default",path="\/",service="app-service",status="200"\} \d+/);
    }));
});
