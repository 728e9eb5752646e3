// The node agent's runtime: a pod's sandbox (namespace, resolv.conf and hosts, CNI ADD in
// order), containers as processes in it (init containers first), restarts by restartPolicy with
// the kubelet's back-off, graceful termination in order, and adoption after an agent restart —
// with a fake process table, clock, namespaces and executor.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Service } from '../../src/api/types.ts';
import { CheckpointStore } from '../../src/agent/checkpoint.ts';
import { cniPath } from '../../src/agent/cni.ts';
import { agentPaths } from '../../src/agent/paths.ts';
import { parseContainerArgv } from '../../src/agent/rootfs.ts';
import { ContainerRuntime, nextBackoffSeconds, terminatedState } from '../../src/agent/runtime.ts';
import { SandboxManager, sandboxName } from '../../src/agent/sandbox.ts';
import { FakeExecutor } from '../../src/exec/fake.ts';
import { FakeClock, FakeNetns, FakeProcesses, pod, settle, tempStateDir } from '../helpers/agent.ts';

const kubernetes = { metadata: { namespace: 'default', name: 'kubernetes' }, spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443 }] } } as Service;

/** A started container's argv read back: its root (namespaces, binds) and its own command. */
function container(argv: string[]) {
  const c = parseContainerArgv(argv);
  assert.ok(c, `not a container's command line: ${argv.join(' ')}`);
  return c;
}

function setup(stateDir = tempStateDir(), processes?: FakeProcesses) {
  const events: string[] = [];
  const logs: string[] = [];
  const log = (s: string) => void logs.push(s);
  const clock = new FakeClock();
  const procs = processes ?? new FakeProcesses(events);
  const netns = new FakeNetns(events);
  const ex = new FakeExecutor();
  for (const plugin of ['loopback', 'bridge', 'portmap']) {
    ex.on(`${cniPath}/${plugin}`, (_argv, opts) => {
      events.push(`cni ${opts.env!.CNI_COMMAND} ${plugin} ${opts.env!.CNI_IFNAME}`);
      if (opts.env!.CNI_COMMAND !== 'ADD') return '';
      return JSON.stringify(plugin === 'loopback' ? { cniVersion: '1.0.0', ips: [{ address: '127.0.0.1/8' }] } : { cniVersion: '1.0.0', ips: [{ address: '10.244.0.9/24', gateway: '10.244.0.1' }] });
    });
  }
  const resolvConf = path.join(stateDir, 'resolv.conf');
  fs.writeFileSync(resolvConf, 'nameserver 192.168.49.1\n');
  const paths = agentPaths(stateDir);
  const sandboxes = new SandboxManager({ podNetnsPrefix: 'pp-t-p', clusterDNS: '10.96.0.10', clusterDomain: 'cluster.local', resolvConf, nodeIP: '192.168.49.2', ipamDir: paths.ipamDir, confListFile: paths.confList, log }, ex, netns);
  sandboxes.setPodCIDR('10.244.0.0/24', undefined);
  const restarted: string[] = [];
  const runtime = new ContainerRuntime(
    { nodeName: 'n1', nodeIP: '192.168.49.2', podpathArgv: ['node', 'podpath.js'], paths, log },
    { processes: procs, clock, checkpoints: new CheckpointStore(paths.podsDir), sandboxes, services: () => [kubernetes], podKubeconfig: (p) => `/sa/${p.metadata.name}.kubeconfig`, containerStarted: (_uid, c) => void restarted.push(c) },
  );
  return { events, logs, clock, procs, netns, ex, paths, stateDir, runtime, restarted };
}

describe('node agent runtime', () => {
  it('makes a sandbox: the namespace, resolv.conf, loopback, then the pod network with the previous result passed on, then hosts', async () => {
    const t = setup();
    const p = pod('web', { hostname: 'w', subdomain: 'svc' });
    const rp = await t.runtime.createPod(p);
    const netns = sandboxName('pp-t-p', p.metadata.uid!);
    assert.equal(netns, 'pp-t-pweb00001');
    assert.deepEqual(t.events, [`netns add ${netns}`, 'cni ADD loopback lo', 'cni ADD bridge eth0', 'cni ADD portmap eth0']);
    assert.equal(rp.podIP, '10.244.0.9');
    assert.equal(t.netns.etc.get(`${netns}/resolv.conf`), 'nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n');
    assert.match(t.netns.etc.get(`${netns}/hosts`)!, /^10\.244\.0\.9\tw\.svc\.default\.svc\.cluster\.local\tw$/m);
    const bridge = t.ex.calls.find((c) => c.argv[0] === `${cniPath}/bridge`)!;
    const conf = JSON.parse(bridge.input!);
    assert.equal(conf.ipam.ranges[0][0].subnet, '10.244.0.0/24');
    assert.equal(conf.hairpinMode, true);
    const portmap = JSON.parse(t.ex.calls.find((c) => c.argv[0] === `${cniPath}/portmap`)!.input!);
    assert.deepEqual(portmap.prevResult.ips, [{ address: '10.244.0.9/24', gateway: '10.244.0.1' }]);
    assert.ok(fs.existsSync(path.join(t.paths.podsDir, `${p.metadata.uid}.json`)), 'checkpointed');
    assert.equal(JSON.parse(fs.readFileSync(t.paths.confList, 'utf8')).plugins[0].type, 'bridge');
  });

  it('runs a tty container on a pseudo-terminal (script) and gives a stdin container its FIFO', async () => {
    const t = setup();
    const p = pod('term', { containers: [{ name: 'sh', image: 'x', command: ['sh', '-c', 'read a; echo "$a"'], stdin: true, tty: true }] });
    const rp = await t.runtime.createPod(p);
    t.runtime.runContainers(p, rp);
    const [, sh] = t.procs.find('script');
    assert.deepEqual(container(sh.argv).argv, ['script', '-qfec', `sh -c 'read a; echo "$a"'`, '/dev/null']);
    assert.equal(sh.opts.stdinFifo, t.paths.containerStdin(p.metadata.uid!, 'sh'));
  });

  it('gives a host-network pod the node\'s namespace under its sandbox name: no CNI, the node\'s IP, the node\'s resolv.conf, and a teardown that leaves the node alone', async () => {
    const t = setup();
    const p = pod('kube-proxy-x2k4q', { hostNetwork: true, hostAliases: [{ ip: '10.0.0.1', hostnames: ['api.local'] }] });
    const rp = await t.runtime.createPod(p);
    const netns = sandboxName('pp-t-p', p.metadata.uid!);
    assert.deepEqual(t.events, [`netns attach ${netns}`]);
    assert.equal(rp.podIP, '192.168.49.2');
    assert.equal(rp.hostNetwork, true);
    assert.equal(t.netns.etc.get(`${netns}/resolv.conf`), 'nameserver 192.168.49.1\n', 'ClusterFirst on the host network is Default: the node\'s resolv.conf');
    assert.match(t.netns.etc.get(`${netns}/hosts`)!, /^# Kubernetes-managed hosts file \(host network\)\.\n[\s\S]*# Entries added by HostAliases\.\n10\.0\.0\.1\tapi\.local\n$/);
    t.runtime.runContainers(p, rp);
    const [, proc] = t.procs.find('600');
    assert.deepEqual([container(proc.argv).root.netns, container(proc.argv).root.hostname], [netns, 'n1'], "the node's hostname, as a host-network pod shares the node's UTS namespace");
    await t.runtime.terminate(rp, 0);
    assert.deepEqual(t.events.filter((e) => e.startsWith('cni') || e.startsWith('netns')), [`netns attach ${netns}`, `netns del ${netns}`], 'no CNI DEL: that would take the node\'s eth0');
  });

  it('expands $(VAR) in command and args from the container\'s environment', async () => {
    const t = setup();
    const p = pod('px', {
      containers: [
        { name: 'kube-proxy', image: 'podpath/kube-proxy', args: ['--config=/var/lib/kube-proxy/config.conf', '--hostname-override=$(NODE_NAME)', '$$(NODE_NAME)', '$(UNSET)'], env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }] },
        { name: 'sh', image: 'debian', command: ['echo', '$(POD_NAME)'] },
      ],
    });
    const rp = await t.runtime.createPod(p);
    t.runtime.runContainers(p, rp);
    const [, proxy] = t.procs.find('proxy');
    assert.deepEqual(proxy.argv.slice(-5), ['proxy', '--config=/var/lib/kube-proxy/config.conf', '--hostname-override=n1', '$(NODE_NAME)', '$(UNSET)']);
    const [, sh] = t.procs.find('echo');
    assert.deepEqual(sh.argv.slice(-2), ['echo', 'px']);
  });

  it('passes the CNI invocation in the environment, as the specification says', async () => {
    const t = setup();
    const envs: NodeJS.ProcessEnv[] = [];
    t.ex.on(`${cniPath}/bridge`, (_a, opts) => {
      envs.push(opts.env!);
      return JSON.stringify({ ips: [{ address: '10.244.0.3/24' }] });
    });
    const p = pod('web', {});
    await t.runtime.createPod(p);
    assert.deepEqual({ ...envs[0], PATH: undefined }, {
      PATH: undefined,
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: p.metadata.uid,
      CNI_NETNS: '/run/netns/pp-t-pweb00001',
      CNI_IFNAME: 'eth0',
      CNI_PATH: cniPath,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_UID=${p.metadata.uid}`,
    });
  });

  it('refuses a sandbox when a plugin fails, with the plugin\'s error message', async () => {
    const t = setup();
    t.ex.on(`${cniPath}/bridge`, () => ({ status: 1, stdout: JSON.stringify({ cniVersion: '1.0.0', code: 11, msg: 'failed to allocate', details: 'range full' }) }));
    await assert.rejects(t.runtime.createPod(pod('web', {})), /CNI plugin bridge failed \(code 1\): failed to allocate: range full/);
    t.ex.on(`${cniPath}/bridge`, () => ({ status: -2, error: 'spawn /usr/lib/cni/bridge ENOENT' }));
    await assert.rejects(t.runtime.createPod(pod('web', {})), /spawn \/usr\/lib\/cni\/bridge ENOENT \(is containernetworking-plugins installed/);
  });

  it('runs init containers one at a time to success, then the app containers, each in the pod\'s namespace with its /etc files', async () => {
    const t = setup();
    const p = pod('web', {
      initContainers: [
        { name: 'one', command: ['sh', '-c', 'echo 1'] },
        { name: 'two', command: ['sh', '-c', 'echo 2'] },
      ],
      containers: [{ name: 'app', image: 'podpath/echo', ports: [{ containerPort: 9090 }], env: [{ name: 'WHO', value: '$(POD_NAME)@$(NODE_NAME)' }, { name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }] }],
    });
    const rp = await t.runtime.createPod(p);
    t.runtime.runContainers(p, rp);
    t.runtime.runContainers(p, rp);
    assert.equal(t.procs.procs.size, 1, 'one init container at a time');
    const [pid1, one] = t.procs.find('echo 1');
    assert.deepEqual(container(one.argv), {
      root: { netns: rp.netns, hostname: 'web', mountPoint: t.paths.containerRoot(p.metadata.uid!, 'one'), etcDir: `/etc/netns/${rp.netns}`, binds: [] },
      argv: ['sh', '-c', 'echo 1'],
    });
    t.procs.exit(pid1, 0);
    await settle();
    assert.equal(rp.containers.one!.state.terminated?.reason, 'Completed');
    t.runtime.runContainers(p, rp);
    const [pid2] = t.procs.find('echo 2');
    t.procs.exit(pid2, 0);
    await settle();
    t.runtime.runContainers(p, rp);
    const [, app] = t.procs.find('echo');
    assert.deepEqual(container(app.argv).argv, ['node', 'podpath.js', 'image', 'echo', '--port', '9090']);
    assert.deepEqual(app.opts.output, t.paths.containerOutput(p.metadata.uid!, 'app'));
    assert.equal(app.opts.env.WHO, 'web@n1');
    assert.equal(app.opts.env.MY_IP, '10.244.0.9');
    assert.equal(app.opts.env.KUBERNETES_SERVICE_HOST, '10.96.0.1');
    assert.equal(app.opts.env.HOSTNAME, 'web');
    assert.equal(rp.containers.app!.ready, true, 'no readiness probe: ready once started');
    assert.deepEqual(t.restarted, ['one', 'two', 'app'], 'each start voids the container\'s probe results');
  });

  it('gives the coredns image the pod\'s in-cluster kubeconfig', async () => {
    const t = setup();
    const p = pod('dns', { containers: [{ name: 'coredns', image: 'docker.io/podpath/coredns:1.0', args: ['--zone', 'cluster.local'] }] });
    const rp = await t.runtime.createPod(p);
    t.runtime.runContainers(p, rp);
    const [, proc] = t.procs.find('dns');
    const c = container(proc.argv);
    assert.deepEqual(c.argv, ['node', 'podpath.js', 'dns', '--kubeconfig', '/sa/dns.kubeconfig', '--zone', 'cluster.local']);
    assert.deepEqual(c.root.binds, [{ source: '/sa/dns.kubeconfig', target: '/sa/dns.kubeconfig', readOnly: true }], 'the kubeconfig it is given is in its root at the same path');
  });

  it('leaves a container whose image is not built in and has no command Waiting with CreateContainerConfigError', async () => {
    const t = setup();
    const p = pod('web', { containers: [{ name: 'nginx', image: 'nginx:1.27' }] });
    const rp = await t.runtime.createPod(p);
    t.runtime.runContainers(p, rp);
    assert.equal(t.procs.procs.size, 0);
    assert.equal(rp.containers.nginx!.state.waiting?.reason, 'CreateContainerConfigError');
    assert.match(rp.containers.nginx!.state.waiting!.message!, /^image nginx:1\.27 is not built into podpath and the container has no command/);
  });

  it('restarts a failed container after the kubelet\'s back-off (10 s doubling to 5 min), counting restarts', async () => {
    const t = setup();
    const p = pod('web', {});
    const rp = await t.runtime.createPod(p);
    t.runtime.runContainers(p, rp);
    const seen: number[] = [];
    for (let i = 1; i <= 7; i++) {
      const pid = rp.containers.main!.pid!;
      t.procs.exit(pid, 1);
      await settle();
      t.runtime.runContainers(p, rp);
      const rc = rp.containers.main!;
      assert.equal(rc.state.waiting?.reason, 'CrashLoopBackOff');
      assert.deepEqual(rc.lastState?.terminated?.exitCode, 1);
      seen.push(rc.backoffSeconds!);
      assert.equal(rc.state.waiting?.message, `back-off ${rc.backoffSeconds}s restarting failed container=main pod=web_default(${p.metadata.uid})`);
      t.clock.advance(rc.backoffSeconds! * 1000 - 1);
      t.runtime.runContainers(p, rp);
      assert.equal(rc.pid, undefined, 'not before the back-off is over');
      t.clock.advance(1);
      t.runtime.runContainers(p, rp);
      assert.ok(rc.state.running, 'restarted when the back-off is over');
      assert.equal(rc.restartCount, i);
    }
    assert.deepEqual(seen, [10, 20, 40, 80, 160, 300, 300]);
    assert.equal(nextBackoffSeconds(undefined), 10);
  });

  it('restarts by restartPolicy: Never leaves an exited container, OnFailure restarts only a failure', async () => {
    for (const [policy, code, restarts] of [
      ['Never', 1, false],
      ['OnFailure', 0, false],
      ['OnFailure', 1, true],
      ['Always', 0, true],
    ] as const) {
      const t = setup();
      const p = pod('web', { restartPolicy: policy });
      const rp = await t.runtime.createPod(p);
      t.runtime.runContainers(p, rp);
      t.procs.exit(rp.containers.main!.pid!, code);
      await settle();
      t.runtime.runContainers(p, rp);
      assert.equal(rp.containers.main!.state.waiting?.reason === 'CrashLoopBackOff', restarts, `${policy} after exit ${code}`);
    }
  });

  it('records how a process ended as a shell would: 128+signal when killed', () => {
    assert.deepEqual(terminatedState(0, null, 'a', 'b'), { terminated: { exitCode: 0, reason: 'Completed', startedAt: 'a', finishedAt: 'b' } });
    assert.deepEqual(terminatedState(null, 'SIGKILL', 'a', 'b'), { terminated: { exitCode: 137, reason: 'Error', startedAt: 'a', finishedAt: 'b', signal: 9 } });
    assert.equal(terminatedState(null, 'SIGTERM', 'a', 'b').terminated!.exitCode, 143);
    assert.equal(terminatedState(null, null, 'a', 'b').terminated!.exitCode, 137, 'an adopted process whose end was not seen');
  });

  it('terminates gracefully: SIGTERM to every container, SIGKILL after the grace period to what still runs, then CNI DEL in reverse order, then the namespace', async () => {
    const t = setup();
    const p = pod('web', { containers: [{ name: 'a', command: ['a'] }, { name: 'b', command: ['b'] }] });
    const rp = await t.runtime.createPod(p);
    t.runtime.runContainers(p, rp);
    const [pa] = t.procs.find('a');
    const [pb, b] = t.procs.find('b');
    b.ignoresTerm = true;
    t.events.length = 0;
    const t0 = t.clock.now();
    await t.runtime.terminate(rp, 30);
    assert.deepEqual(t.events, [`SIGTERM ${pa}`, `SIGTERM ${pb}`, `SIGKILL ${pb}`, 'cni DEL portmap eth0', 'cni DEL bridge eth0', `netns del ${rp.netns}`]);
    assert.ok(t.clock.now() - t0 >= 30_000, 'the grace period was waited for');
    assert.equal(t.runtime.get(rp.uid), undefined);
    assert.equal(fs.existsSync(path.join(t.paths.podsDir, `${rp.uid}.json`)), false, 'checkpoint removed');
    assert.match(t.logs.at(-1)!, /^pod default\/web torn down$/);
  });

  it('does not wait out the grace period for processes that end on SIGTERM', async () => {
    const t = setup();
    const p = pod('web', {});
    const rp = await t.runtime.createPod(p);
    t.runtime.runContainers(p, rp);
    const t0 = t.clock.now();
    await t.runtime.terminate(rp, 30);
    assert.ok(t.clock.now() - t0 < 1000);
    assert.equal(t.events.filter((e) => e.startsWith('SIGKILL')).length, 0);
  });

  it('adopts checkpointed pods after an agent restart: a live process is kept, a dead one is an exit to restart from', async () => {
    const first = setup();
    const p = pod('web', { containers: [{ name: 'live', command: ['live'] }, { name: 'dead', command: ['dead'] }] });
    const rp = await first.runtime.createPod(p);
    first.runtime.runContainers(p, rp);
    const live = rp.containers.live!.pid!;
    fs.writeFileSync(path.join(first.paths.podsDir, 'broken.json'), '{');
    // A new agent: the old processes are not its children; only `live` still runs.
    const procs = new FakeProcesses();
    procs.adopted.add(live);
    const second = setup(first.stateDir, procs);
    second.runtime.adopt();
    assert.match(second.logs.join('\n'), /cannot adopt broken\.json: /);
    const adopted = second.runtime.get(rp.uid)!;
    assert.equal(adopted.containers.live!.pid, live);
    assert.ok(adopted.containers.live!.state.running);
    assert.equal(adopted.containers.dead!.state.terminated?.exitCode, 137);
    second.runtime.runContainers(p, adopted);
    assert.equal(procs.procs.size, 0, 'nothing started again at once');
    assert.equal(adopted.containers.dead!.state.waiting?.reason, 'CrashLoopBackOff');
    // The adopted process ends later: no exit listener, so the sync notices it.
    procs.adopted.delete(live);
    second.runtime.noticeExits(adopted);
    assert.equal(adopted.containers.live!.state.terminated?.exitCode, 137);
  });
});
