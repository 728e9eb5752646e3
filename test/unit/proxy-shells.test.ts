// Every command kube-proxy runs goes through an Executor (src/exec): the real shells are checked
// here against the exec layer's fake (which command, which arguments, what input), the mode table's
// backends are made and synced with it, and the shells' own fakes behave as the kernel would.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import type { EndpointSlice, Service } from '../../src/api/types.ts';
import { FakeExecutor } from '../../src/exec/fake.ts';
import { appendRule, FakeIptables, IptError, Iptables, newTable } from '../../src/iptables/index.ts';
import { allServicePorts } from '../../src/proxy/backend.ts';
import { proxyModes, type ProxyFlags } from '../../src/proxy/config.ts';
import { reconcileConntrack } from '../../src/proxy/conntrack.ts';
import { FakeDummy, realDummy } from '../../src/proxy/dummydevice.ts';
import { IptablesBackend } from '../../src/proxy/iptables/backend.ts';
import { IpvsBackend } from '../../src/proxy/ipvs/backend.ts';
import { FakeIpvs, realIpvs } from '../../src/proxy/ipvs/shell.ts';
import { ProxyMetrics } from '../../src/proxy/metrics.ts';
import { portsByService, servicePorts } from '../../src/proxy/model.ts';
import { modes, proxyPreflight } from '../../src/proxy/app/modes.ts';
import { Fake, NftError } from '../../src/knftables/index.ts';
import { kubeProxyNftables, NftablesBackend } from '../../src/proxy/nftables/backend.ts';
import { kubeProxyTable } from '../../src/proxy/nftables/render.ts';
import { UserspaceBackend } from '../../src/proxy/userspace/backend.ts';
import { FakeTransparent, realTransparent } from '../../src/proxy/userspace/transparent.ts';

const flags: ProxyFlags = { clusterCIDR: '10.244.0.0/16', masqueradeAll: false, masqueradeBit: 14, localhostNodePorts: true, nodePortAddresses: [] };
const service = { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name: 'web' }, spec: { type: 'NodePort', clusterIP: '10.96.0.20', ports: [{ port: 80, protocol: 'UDP', nodePort: 30080 }] } } as unknown as Service;
const slice = (ips: string[]) => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { namespace: 'default', name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', ports: [{ name: '', port: 8080, protocol: 'UDP' }], endpoints: ips.map((ip) => ({ addresses: [ip], nodeName: 'n1' })) }) as unknown as EndpointSlice;
const byService = (ips: string[]) => portsByService(servicePorts([service], [slice(ips)], 'n1'));
const argvs = (ex: FakeExecutor) => ex.calls.map((c) => c.argv.join(' '));
/** What `nft --json list …` says where there are no tables. */
const noNftTables = JSON.stringify({ nftables: [{ metainfo: { json_schema_version: 1 } }] });

describe('kube-proxy shells through the exec layer', () => {
  it('iptables: one restore with --noflush that also makes the missing jump rules and canary chains, and --random-fully only where iptables --version allows it', () => {
    const ex = new FakeExecutor().on('iptables', (argv) => (argv[1] === '--version' ? 'iptables v1.8.9 (nf_tables)\n' : argv.includes('-C') || argv.includes('-S') ? { status: 1 } : ''));
    const shell = new Iptables({ executor: ex });
    assert.equal(shell.hasRandomFully(), true);
    new IptablesBackend(flags, new ProxyMetrics('iptables'), shell, 30_000, Date.now, ex).sync({ byService: byService(['10.244.0.5']), nodeIP: '192.168.49.2' });
    const restore = ex.calls.find((c) => c.argv[0] === 'iptables-restore')!;
    assert.deepEqual(restore.argv, ['iptables-restore', '-w', '5', '-W', '100000', '--noflush', '--counters']);
    assert.match(restore.input!, /-j MASQUERADE --random-fully$/m);
    assert.deepEqual(argvs(ex).filter((a) => a.startsWith('iptables-save')), ['iptables-save -t filter', 'iptables-save -t nat', 'iptables-save -t mangle']);
    assert.deepEqual(argvs(ex).filter((a) => / -[CNIS] /.test(a)), [], 'no iptables command per jump rule or chain');
    const section = (t: string) => new RegExp(`^\\*${t}\\n((?:(?!^COMMIT$)[\\s\\S])*)^COMMIT$`, 'm').exec(restore.input!)?.[1] ?? '';
    assert.match(section('nat'), /^-I OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES$/m, 'a missing jump rule is inserted');
    for (const t of ['mangle', 'nat', 'filter']) assert.match(section(t), /^:KUBE-PROXY-CANARY - \[0:0\]$/m);
    assert.equal(new Iptables({ executor: new FakeExecutor().on('iptables', () => 'iptables v1.6.1\n') }).hasRandomFully(), false);
    // The capability is the Interface's to say: a fake without it gets no --random-fully.
    const fake = new FakeIptables();
    const masquerade = () => fake.rules('nat', 'KUBE-POSTROUTING')!.at(-1)!.args.slice(-3);
    new IptablesBackend(flags, new ProxyMetrics('iptables'), fake).sync({ byService: byService(['10.244.0.5']) });
    assert.deepEqual(masquerade(), ['kubernetes service traffic requiring SNAT', '-j', 'MASQUERADE']);
    fake.randomFully = true;
    new IptablesBackend(flags, new ProxyMetrics('iptables'), fake).sync({ byService: byService(['10.244.0.5']) });
    assert.deepEqual(masquerade(), ['-j', 'MASQUERADE', '--random-fully']);
  });

  it('nftables: one nft -f transaction, the table read back as JSON', () => {
    const listing = JSON.stringify({ nftables: [{ metainfo: { json_schema_version: 1 } }, { chain: { family: 'ip', table: 'kube-proxy', name: 'services' } }, { chain: { family: 'ip', table: 'other', name: 'x' } }] });
    const ex = new FakeExecutor().on('nft', (argv) => (argv[1] === '--json' ? listing : ''));
    const nft = kubeProxyNftables(ex);
    assert.deepEqual(nft.list('chains'), ['services']);
    new NftablesBackend(flags, new ProxyMetrics('nftables'), nft, Date.now, ex).sync({ byService: byService(['10.244.0.5']), nodeIP: '192.168.49.2' });
    assert.deepEqual(ex.callsOf('nft').slice(1), [['--json', '--terse', 'list', 'chains', 'ip'], ['--json', '--terse', 'list', 'sets', 'ip'], ['--json', 'list', 'tables', 'ip'], ['-f', '-']]);
    assert.match(ex.calls.at(-1)!.input!, /^add table ip kube-proxy \{ comment "rules for kube-proxy" ; \}\n/);
  });

  it('ipvs: ipvsadm, ipset, sysctl and the nat rules beside them, all through the executor', () => {
    const ex = new FakeExecutor();
    const shell = realIpvs(ex);
    shell.restore([]);
    assert.equal(ex.calls.length, 0, 'no ipvsadm-restore without edits');
    shell.restore(['-A -t 10.96.0.20:80 -s rr']);
    shell.ipsetRestore('create KUBE-CLUSTER-IP hash:ip,port\n');
    shell.sysctl('net.ipv4.vs.conntrack', '1');
    shell.iptables.hasChain('nat', 'KUBE-SERVICES');
    assert.deepEqual(ex.calls, [
      { argv: ['ipvsadm-restore'], input: '-A -t 10.96.0.20:80 -s rr\n' },
      { argv: ['ipset', 'restore'], input: 'create KUBE-CLUSTER-IP hash:ip,port\n' },
      { argv: ['sysctl', '-q', '-w', 'net.ipv4.vs.conntrack=1'] },
      { argv: ['iptables', '-w', '5', '-t', 'nat', '-S', 'KUBE-SERVICES'] },
    ]);
  });

  it('kube-ipvs0: made a dummy device (a bridge where the kernel has no dummy driver), addresses read from ip -j', () => {
    const ex = new FakeExecutor().on('ip', (argv) => {
      if (argv.join(' ') === 'ip link show kube-ipvs0' || argv.join(' ') === 'ip link add kube-ipvs0 type dummy') return { status: 1 };
      if (argv[1] === '-j') return JSON.stringify([{ ifname: 'eth0', addr_info: [{ local: '192.168.49.2' }] }, { ifname: 'kube-ipvs0', addr_info: [{ local: '10.96.0.1' }] }]);
      return '';
    });
    const dummy = realDummy(ex);
    dummy.ensure(true);
    assert.deepEqual(argvs(ex), ['ip link show kube-ipvs0', 'ip link add kube-ipvs0 type dummy', 'ip link add kube-ipvs0 type bridge', 'ip link set kube-ipvs0 up', 'sysctl -q -w net.ipv4.conf.all.arp_ignore=1', 'sysctl -q -w net.ipv4.conf.all.arp_announce=2']);
    assert.deepEqual(dummy.nodeAddresses(), ['192.168.49.2']);
    assert.deepEqual(ex.calls.at(-1)!.argv, ['ip', '-j', '-4', 'addr', 'show']);
    dummy.add('10.96.0.20');
    assert.deepEqual(ex.calls.at(-1)!.argv, ['ip', 'addr', 'replace', '10.96.0.20/32', 'dev', 'kube-ipvs0']);
  });

  it('userspace: the mark rule and policy route for client addresses, set up once a Local Service needs them', () => {
    const ex = new FakeExecutor();
    realTransparent(ex).ensureRouting();
    assert.deepEqual(argvs(ex), ['nft -f -', 'ip rule show fwmark 0x20000/0x20000', 'ip rule add fwmark 0x20000/0x20000 lookup 1037', 'ip route replace local 0.0.0.0/0 dev lo table 1037']);
    assert.match(ex.calls[0]!.input!, /socket transparent 1 meta mark set meta mark \| 0x20000/);
    const transparent = new FakeTransparent();
    const b = new UserspaceBackend({ scheduler: 'rr', strictARP: false, udpTimeoutMs: 250, connectTimeoutMs: 500, nodePortIPs: () => ['127.0.0.72'], dummy: new FakeDummy(), transparent, log: () => {} });
    const local = { ...service, spec: { ...service.spec, clusterIP: '127.0.0.71', externalTrafficPolicy: 'Local', ports: [{ port: 31081, protocol: 'UDP', nodePort: 31082 }] } } as Service;
    for (let i = 0; i < 2; i++) b.sync({ byService: portsByService(servicePorts([local], [slice(['127.0.0.1'])], 'n1')) });
    b.close();
    assert.equal(transparent.routingSetUps, 1);
  });

  it('conntrack: the UDP flows listed, the stale ones deleted', () => {
    const ex = new FakeExecutor().on('conntrack', (argv) => (argv[1] === '-L' ? 'udp      17 29 src=10.244.0.9 dst=10.96.0.20 sport=40053 dport=80 src=10.244.0.4 dst=10.244.0.9 sport=8080 dport=40053 mark=0 use=1\n' : ''));
    assert.equal(reconcileConntrack(allServicePorts(byService(['10.244.0.5'])), ex), 1);
    assert.deepEqual(argvs(ex), ['conntrack -L -f ipv4 -p udp', 'conntrack -D -f ipv4 -p udp --orig-dst 10.96.0.20 --orig-port-dst 80 --reply-src 10.244.0.4']);
  });

  it('preflight names each missing tool of the mode with its package', () => {
    const ex = new FakeExecutor().on('sh', (argv) => (/command -v (nft|conntrack)$/.test(argv[2]!) ? '' : '/usr/sbin/x'));
    const tools = (mode: 'iptables' | 'nftables' | 'userspace') => proxyPreflight(mode, ex).filter((m) => !m.startsWith('root:'));
    assert.deepEqual(tools('nftables'), ['nft: apt-get install -y nftables', 'conntrack: apt-get install -y conntrack']);
    assert.deepEqual(tools('iptables'), ['conntrack: apt-get install -y conntrack']);
    assert.deepEqual(tools('userspace'), [], 'the userspace proxy NATs nothing in the kernel: no conntrack');
  });

  it('makes each mode\'s backend from the table, its commands going through the executor', () => {
    assert.deepEqual(Object.keys(modes).sort(), [...proxyModes].sort());
    const allowed: Record<string, string[]> = { iptables: ['iptables', 'iptables-save', 'iptables-restore'], nftables: ['nft'], ipvs: ['iptables', 'iptables-restore', 'ipvsadm', 'ipvsadm-save', 'ipvsadm-restore', 'ipset', 'ip', 'sysctl'], userspace: ['ip'] };
    for (const mode of proxyModes) {
      const ex = new FakeExecutor().on('ip', (argv) => (argv[1] === '-j' ? '[]' : '')).on('nft', (argv) => (argv.includes('--json') ? noNftTables : ''));
      const ctx = { flags, metrics: new ProxyMetrics(mode), syncPeriodMs: 30_000, log: () => {}, ex };
      if (mode === 'ipvs' && !fs.existsSync('/proc/net/ip_vs')) {
        assert.throws(() => modes.ipvs.newBackend(ctx), /this kernel has no IP Virtual Server support/);
        continue;
      }
      const backend = modes[mode].newBackend(ctx);
      assert.equal(backend.mode, mode);
      backend.sync({ byService: new Map(), nodeIP: '192.168.49.2' });
      backend.close?.();
      assert.ok(ex.calls.length > 0, `${mode}: the sync ran its commands through the executor`);
      for (const c of ex.calls) assert.ok(allowed[mode]!.includes(c.argv[0]!), `${mode} ran ${c.argv.join(' ')}`);
    }
  });
});

describe('the shells\' fakes behave as the kernel', () => {
  it('FakeIptables: chains a restore declares and the canary exist afterwards; a refused restore changes nothing', () => {
    const ipt = new FakeIptables();
    const b = new IptablesBackend(flags, new ProxyMetrics('iptables'), ipt);
    assert.equal(b.intact(), false);
    b.sync({ byService: byService(['10.244.0.5']) });
    assert.equal(b.intact(), true);
    assert.ok(ipt.hasChain('nat', 'KUBE-SERVICES'));
    // Someone else's rule jumps to the endpoint chain the next sync finds stale: iptables will not delete it.
    const sep = ipt.save('nat').chains.find((c) => c.name.startsWith('KUBE-SEP-'))!.name;
    const other = newTable('nat', ['OTHER']);
    appendRule(other, 'OTHER', ['-j', sep]);
    ipt.restore([other], { noflush: true });
    const before = ipt.save('nat');
    assert.throws(() => b.sync({ byService: byService(['10.244.0.6']) }), (e) => e instanceof IptError && e.code === 'EBUSY');
    assert.deepEqual(ipt.save('nat'), before, 'the refused restore changed nothing');
  });

  it('the knftables Fake: the table\'s chains come and go with the transactions, and a refused one changes nothing', () => {
    const fake = new Fake(kubeProxyTable);
    const b = new NftablesBackend({ ...flags, nodePortAddresses: ['primary'] }, new ProxyMetrics('nftables'), fake);
    assert.equal(b.intact(), false);
    b.sync({ byService: byService(['10.244.0.5']), nodeIP: '192.168.49.2' });
    assert.equal(b.intact(), true);
    assert.ok(fake.list('chains').some((c) => c.startsWith('service-')));
    assert.deepEqual(fake.list('sets'), ['cluster-ips', 'nodeport-ips']);
    // behind the backend's back, the endpoint chain it will flush goes: nft refuses the flush
    const ep = fake.list('chains').find((c) => c.startsWith('endpoint-'))!;
    fake.run(fake.newTransaction().flush({ kind: 'chain', name: fake.list('chains').find((c) => c.startsWith('service-'))! }).delete({ kind: 'chain', name: ep }));
    const before = fake.dump();
    assert.throws(() => b.sync({ byService: byService(['10.244.0.6']), nodeIP: '192.168.49.2', changed: new Set(['default/web']) }), (e) => e instanceof NftError && e.code === 'ENOENT');
    assert.equal(fake.dump(), before);
  });

  it('FakeIpvs: the edits change its table, so the same sync twice edits nothing the second time', () => {
    const shell = new FakeIpvs();
    const dummy = new FakeDummy(['192.168.49.2']);
    const b = new IpvsBackend(flags, shell, dummy);
    b.sync({ byService: byService(['10.244.0.5', '10.244.0.6']), nodeIP: '192.168.49.2' });
    assert.deepEqual(shell.edits, ['-A -u 10.96.0.20:80 -s rr', '-a -u 10.96.0.20:80 -r 10.244.0.5:8080 -m -w 1', '-a -u 10.96.0.20:80 -r 10.244.0.6:8080 -m -w 1', '-A -u 192.168.49.2:30080 -s rr', '-a -u 192.168.49.2:30080 -r 10.244.0.5:8080 -m -w 1', '-a -u 192.168.49.2:30080 -r 10.244.0.6:8080 -m -w 1']);
    assert.equal(shell.save(), `${shell.edits.join('\n')}\n`);
    assert.deepEqual(dummy.list(), ['10.96.0.20']);
    assert.equal(shell.sysctls.get('net.ipv4.vs.conntrack'), '1');
    assert.equal(b.intact(), true);
    shell.edits.length = 0;
    b.sync({ byService: byService(['10.244.0.5', '10.244.0.6']), nodeIP: '192.168.49.2' });
    assert.deepEqual(shell.edits, []);
    b.sync({ byService: byService(['10.244.0.5']), nodeIP: '192.168.49.2' });
    assert.deepEqual(shell.edits, ['-d -u 10.96.0.20:80 -r 10.244.0.6:8080', '-d -u 192.168.49.2:30080 -r 10.244.0.6:8080'], 'UDP real servers go at once');
    assert.doesNotMatch(shell.save(), /10\.244\.0\.6/);
  });
});
