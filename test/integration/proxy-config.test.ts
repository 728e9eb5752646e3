// `podpath proxy --config`: kube-proxy's own configuration file (KubeProxyConfiguration
// v1alpha1, as the seeds' kube-proxy ConfigMap holds it) sets the mode and its options; flags on
// the command line win; what kube-proxy's strict decoding refuses is refused, naming the field.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { kubeProxyFileSettings } from '../../src/proxy/config.ts';
import { podpathBin, repoRoot, tempDir } from '../helpers/apiserver.ts';

const state = path.join(repoRoot, 'examples/proxy/seed-001-state.yaml');
const example = path.join(repoRoot, 'examples/proxy/kube-proxy-ipvs.yaml');
const render = (args: string[]) => {
  const r = spawnSync(process.execPath, [podpathBin, 'proxy', 'render', '-f', state, '--node-name', 'minikube', '--node-ip', '192.168.49.2', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

it('renders IPVS mode from the seeds\' configuration file as from the flags, and a flag given wins', () => {
  const fromFile = render(['--config', example]);
  assert.equal(fromFile.code, 0, fromFile.err);
  assert.equal(fromFile.out, fs.readFileSync(path.join(repoRoot, 'test/golden/proxy-ipvs-seed-001.txt'), 'utf8'));
  const withFlag = render(['--config', example, '--ipvs-scheduler', 'sh']);
  assert.match(withFlag.out, /^-A -t 10\.96\.0\.20:8080 -s sh$/m);
  const iptables = render(['--config', example, '--proxy-mode', 'iptables']);
  assert.match(iptables.out, /^\*nat$/m);
  assert.doesNotMatch(iptables.out, /ipvsadm/);
});

it('runs kube-proxy in the file\'s mode', { skip: fs.existsSync('/proc/net/ip_vs') && 'this kernel has IPVS' }, () => {
  const r = spawnSync(process.execPath, [podpathBin, 'proxy', '--config', example, '--kubeconfig', '/nonexistent'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot run kube-proxy in ipvs mode, missing:\n {2}- IPVS: this kernel has no IP Virtual Server support/);
});

it('takes each setting from the mode\'s own section, as kube-proxy reads them', () => {
  const doc = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'nftables',
    hostnameOverride: 'node-a',
    clientConnection: { kubeconfig: '/etc/kube-proxy.conf' },
    nodePortAddresses: ['primary', '10.0.0.0/8'],
    iptables: { masqueradeBit: 14, syncPeriod: '30s', minSyncPeriod: '1s', localhostNodePorts: false },
    nftables: { masqueradeBit: 12, masqueradeAll: true, syncPeriod: '10s', minSyncPeriod: '2s' },
    ipvs: { scheduler: 'lc', strictARP: true },
    conntrack: { maxPerCore: 32768 },
  };
  assert.deepEqual(kubeProxyFileSettings(doc, 'f'), {
    mode: 'nftables',
    nodeName: 'node-a',
    kubeconfig: '/etc/kube-proxy.conf',
    nodeportAddresses: 'primary,10.0.0.0/8',
    syncPeriod: '10s',
    minSyncPeriod: '2s',
    masqueradeAll: true,
    masqueradeBit: '12',
    iptablesLocalhostNodeports: 'false',
    ipvsScheduler: 'lc',
    ipvsStrictArp: true,
  });
  // IPVS mode: its own sync periods, iptables' masquerade settings.
  assert.deepEqual(kubeProxyFileSettings({ ...doc, mode: 'ipvs', ipvs: { syncPeriod: '45s' } }, 'f'), {
    mode: 'ipvs', nodeName: 'node-a', kubeconfig: '/etc/kube-proxy.conf', nodeportAddresses: 'primary,10.0.0.0/8', syncPeriod: '45s', masqueradeBit: '14', iptablesLocalhostNodeports: 'false',
  });
});

it('refuses a file kube-proxy would refuse, naming what is wrong, before doing anything', () => {
  const dir = tempDir('proxy-config');
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  const head = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';
  const cases: [string, RegExp][] = [
    [file('typo.yaml', `${head}mode: ipvs\nipvs:\n  strictArp: true\n`), /--config \S+typo\.yaml: unknown field "ipvs\.strictArp"/],
    [file('top.yaml', `${head}proxyMode: ipvs\n`), /--config \S+top\.yaml: unknown field "proxyMode"/],
    [file('kind.yaml', 'mode: ipvs\nipvs: {scheduler: rr}\n'), /apiVersion\/kind must be kubeproxy\.config\.k8s\.io\/v1alpha1 KubeProxyConfiguration, not undefined undefined/],
    [file('mode.yaml', `${head}mode: kernelspace\n`), /mode: "kernelspace" is not one of iptables, nftables, userspace, ipvs/],
    [file('bool.yaml', `${head}ipvs:\n  strictARP: "yes"\n`), /ipvs\.strictARP: must be true or false/],
    [file('sched.yaml', `${head}mode: ipvs\nipvs:\n  scheduler: fastest\n`), /--ipvs-scheduler: "fastest" is not one of rr, wrr, lc, wlc, sh, dh, sed, nq/],
    [file('yaml.yaml', `${head}ipvs: [\n`), /--config \S+yaml\.yaml: /],
    [path.join(dir, 'missing.yaml'), /--config \S+missing\.yaml: ENOENT/],
  ];
  for (const [f, want] of cases) {
    const r = render(['--config', f]);
    assert.notEqual(r.code, 0, f);
    assert.match(r.err, want, f);
    assert.equal(r.out, '', `${f}: nothing rendered`);
  }
});
