// `podpath up` checks what it needs before doing anything: without root it says so and leaves
// nothing behind. Bad input is refused before anything is built.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { listNetns } from '../../src/exec/netns.ts';
import { podpathBin, repoRoot } from '../helpers/apiserver.ts';
import { isRoot, testName } from '../helpers/lab.ts';

const up = (args: string[], asNobody = false) => {
  const argv = [process.execPath, podpathBin, 'up', ...args];
  const r = asNobody ? spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv], { encoding: 'utf8', cwd: repoRoot }) : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
};

describe('podpath up preflight', () => {
  it('without root, names what is missing and creates nothing', { skip: !isRoot && 'needs root to switch to an unprivileged user' }, () => {
    const name = testName('nobody', 2);
    const r = up(['--name', name, '-f', 'examples/seed-001'], true);
    assert.equal(r.code, 1);
    assert.match(r.out, /cannot build a lab, missing:\n {2}- root: podpath up creates network namespaces and links; run it as root \(sudo\)/);
    assert.deepEqual(listNetns().filter((n) => n.startsWith(`pp-${name}-`)), []);
    assert.equal(fs.existsSync(`/run/podpath/${name}`), false);
  });

  it('stops --proxy-mode ipvs on a kernel without IPVS with a message naming it and the modes that work', { skip: fs.existsSync('/proc/net/ip_vs') && 'this kernel has IPVS' }, () => {
    const name = testName('ipvs', 2);
    const r = up(['--name', name, '--proxy-mode', 'ipvs']);
    assert.equal(r.code, 1);
    assert.match(r.out, /IPVS: this kernel has no IP Virtual Server support \(\/proc\/net\/ip_vs is missing: the ip_vs module is not loaded, or not built\)/);
    assert.match(r.out, /or use --proxy-mode iptables, nftables or userspace, which work here/);
    assert.deepEqual(listNetns().filter((n) => n.startsWith(`pp-${name}-`)), []);
    assert.equal(fs.existsSync(`/run/podpath/${name}`), false);
  });

  it('takes the lab\'s proxy mode from --proxy-config, and refuses a bad file before building anything', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podpath-proxy-config-'));
    try {
      const name = testName('cfg', 2);
      const bad = path.join(dir, 'bad.yaml');
      fs.writeFileSync(bad, 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nipvs:\n  strictArp: true\n');
      const r = up(['--name', name, '--proxy-config', bad]);
      assert.equal(r.code, 1);
      assert.match(r.out, /--config \S+bad\.yaml: unknown field "ipvs\.strictArp"/);
      if (!fs.existsSync('/proc/net/ip_vs')) {
        const ipvs = up(['--name', name, '--proxy-config', path.join(repoRoot, 'examples/proxy/kube-proxy-ipvs.yaml')]);
        assert.equal(ipvs.code, 1);
        assert.match(ipvs.out, /IPVS: this kernel has no IP Virtual Server support/, 'the file\'s mode is the lab\'s');
      }
      assert.deepEqual(listNetns().filter((n) => n.startsWith(`pp-${name}-`)), []);
      assert.equal(fs.existsSync(`/run/podpath/${name}`), false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad lab name, node count, backend or manifest before building anything', () => {
    const x = testName('x', 2);
    assert.match(up(['--name', 'Bad_Name']).out, /invalid lab name "Bad_Name": use 1-20 lower-case letters, digits and '-', starting with a letter/);
    assert.match(up(['--name', x, '--nodes', '0']).out, /--nodes must be between 1 and 20/);
    assert.match(up(['--name', x, '--cni-backend', 'flannel']).out, /Allowed choices are host-gw, vxlan, bgp/);
    assert.match(up(['--name', x, '--bgp-route-reflector']).out, /--bgp-route-reflector needs --cni-backend bgp/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pptest-manifest-'));
    fs.writeFileSync(path.join(dir, 'widget.yaml'), 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n');
    assert.match(up(['--name', x, '-f', dir]).out, /widget\.yaml: kind Widget \(example\.com\/v1\) is not served by podpath/);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(fs.existsSync(`/run/podpath/${x}`), false);
  });

  it('refuses --cni-backend bgp without BIRD, naming the package, before building anything', { skip: !isRoot && 'the root check comes first' }, () => {
    const name = testName('nobird', 2);
    // BIRD is in /usr/sbin; without it on PATH it is not there for podpath either
    const argv = [process.execPath, podpathBin, 'up', '--name', name, '--cni-backend', 'bgp'];
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, PATH: '/usr/local/bin:/usr/bin:/bin' } });
    assert.equal(r.status, 1);
    assert.match(`${r.stdout}${r.stderr}`, /cannot build a lab, missing:[\s\S]*- bird and birdc \(BIRD 2\), the BGP daemon of --cni-backend bgp: apt-get install -y bird2/);
    assert.deepEqual(listNetns().filter((n) => n.startsWith(`pp-${name}-`)), []);
    assert.equal(fs.existsSync(`/run/podpath/${name}`), false);
  });

  it('runs no kube-proxy without root, saying so, and refuses bad proxy flags naming the flag', { skip: !isRoot && 'needs root to switch to an unprivileged user' }, () => {
    const proxy = (args: string[], asNobody = false) => {
      const argv = [process.execPath, podpathBin, 'proxy', '--kubeconfig', '/nonexistent', ...args];
      const r = asNobody ? spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...argv], { encoding: 'utf8', cwd: repoRoot, timeout: 20_000 }) : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 20_000 });
      return { code: r.status, out: `${r.stdout}${r.stderr}` };
    };
    const r = proxy(['--mode', 'nftables'], true);
    assert.equal(r.code, 1);
    assert.match(r.out, /cannot run kube-proxy in nftables mode, missing:\n {2}- root: kube-proxy writes the kernel's packet rules/);
    assert.match(proxy(['--cluster-cidr', '10.244.0.0/33']).out, /--cluster-cidr: "10\.244\.0\.0\/33" is not a CIDR/);
    assert.match(proxy(['--mode', 'fast']).out, /Allowed choices are iptables, nftables, userspace, ipvs/);
    if (!fs.existsSync('/proc/net/ip_vs')) assert.match(proxy(['--mode', 'ipvs']).out, /cannot run kube-proxy in ipvs mode, missing:\n {2}- IPVS: this kernel has no IP Virtual Server support/);
    assert.match(proxy(['--mode', 'userspace', '--ipvs-scheduler', 'fastest']).out, /--ipvs-scheduler: "fastest" is not one of rr, wrr, lc, wlc, sh, dh, sed, nq/);
    assert.match(proxy(['--mode', 'userspace', '--scheduler', 'quickest']).out, /--ipvs-scheduler: "quickest" is not one of rr, wrr, lc, wlc, sh, dh, sed, nq/, '--scheduler is the same flag');
    assert.match(proxy(['--proxy-mode', 'nftables'], true).out, /cannot run kube-proxy in nftables mode/, "kube-proxy's own flag name works too");
  });
});
