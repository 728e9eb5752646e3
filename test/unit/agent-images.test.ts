// What a container of each kind of image runs: busybox and alpine as Debian's busybox (the
// image's default `sh`, commands and args as applets by name or path, a program busybox lacks
// not found), nicolaka/netshoot with the host's tools, podpath's own images as podpath commands.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { containerCommand, imageName, type ImageTools } from '../../src/agent/images.ts';
import { tempStateDir } from '../helpers/agent.ts';

const bin = path.join(tempStateDir(), 'bin');
fs.mkdirSync(bin);
for (const a of ['sh', 'wget', 'nslookup', 'nc', 'ping', 'ip']) fs.symlinkSync('/bin/busybox', path.join(bin, a));
const tools: ImageTools = { busyboxBin: () => bin };
const run = (image: string, o: { command?: string[]; args?: string[] } = {}) => containerCommand({ name: 'c', image, ...o }, ['node', 'podpath.js'], () => '/kc', tools);

describe('images', () => {
  it('names images as Docker Hub does', () => {
    for (const ref of ['busybox', 'busybox:1.36', 'docker.io/library/busybox:1.36', 'library/busybox', 'docker.io/busybox@sha256:0123abcd']) assert.equal(imageName(ref), 'busybox', ref);
    assert.equal(imageName('docker.io/podpath/echo:1'), 'podpath/echo');
    assert.equal(imageName('nicolaka/netshoot:latest'), 'nicolaka/netshoot');
  });

  it("runs busybox's default sh, and commands and args as busybox applets on a PATH of applets only, the applets' directory in the container's root", () => {
    assert.deepEqual(run('busybox'), { argv: [`${bin}/sh`], etcDirs: [], builtin: false, env: { PATH: bin }, files: [bin] });
    assert.deepEqual(run('docker.io/library/busybox:1.36', { args: ['wget', '-O-', 'http://10.96.0.20:80'] }), { argv: [`${bin}/wget`, '-O-', 'http://10.96.0.20:80'], etcDirs: [], builtin: false, env: { PATH: bin }, files: [bin] });
    assert.deepEqual((run('busybox', { command: ['sh', '-c'], args: ['nslookup my-service'] }) as { argv: string[] }).argv, [`${bin}/sh`, '-c', 'nslookup my-service']);
    assert.deepEqual((run('alpine') as { argv: string[] }).argv, [`${bin}/sh`], "alpine's /bin/sh is busybox's");
    assert.deepEqual((run('alpine:3.20', { command: ['/usr/bin/nc', '-z', 'x', '80'] }) as { argv: string[] }).argv, [`${bin}/nc`, '-z', 'x', '80']);
    assert.deepEqual(run('busybox', { args: ['curl', 'http://x'] }), { error: 'exec: "curl": executable file not found in $PATH' });
    assert.deepEqual(containerCommand({ name: 'c', image: 'busybox' }, ['podpath'], () => '', { busyboxBin: () => ({ error: 'no busybox' }) }), { error: 'no busybox' });
  });

  it("runs nicolaka/netshoot with the host's tools, and podpath's images as podpath", () => {
    assert.deepEqual(run('nicolaka/netshoot'), { argv: ['bash'], etcDirs: [], builtin: false });
    assert.deepEqual((run('nicolaka/netshoot', { args: ['dig', '+short', 'kubernetes.default.svc.cluster.local'] }) as { argv: string[] }).argv, ['dig', '+short', 'kubernetes.default.svc.cluster.local']);
    assert.deepEqual((run('podpath/kube-proxy', { command: ['/usr/local/bin/kube-proxy', '--config=/var/lib/kube-proxy/config.conf'] }) as { argv: string[] }).argv, ['node', 'podpath.js', 'proxy', '--config=/var/lib/kube-proxy/config.conf']);
    assert.deepEqual((run('podpath/coredns') as { argv: string[] }).argv, ['node', 'podpath.js', 'dns', '--kubeconfig', '/kc']);
    assert.match((run('nginx:1.27') as { error: string }).error, /is not built into podpath .*busybox, alpine, nicolaka\/netshoot/);
  });

  it("runs a built-in image's native program where this checkout built one, with the subcommand's flags, and podpath otherwise", () => {
    const native: ImageTools = { ...tools, nativeProgram: (p) => (p === 'echo' ? '/pp/build/echo' : undefined) };
    const echo = { name: 'c', image: 'podpath/echo', ports: [{ containerPort: 80 }, { containerPort: 81, protocol: 'UDP' as const }], args: ['--message', 'v2'] };
    assert.deepEqual(containerCommand(echo, ['node', 'podpath.js'], () => '/kc', native), { argv: ['/pp/build/echo', '--port', '80', '--udp-port', '81', '--message', 'v2'], etcDirs: [], builtin: true });
    assert.deepEqual((containerCommand(echo, ['node', 'podpath.js'], () => '/kc', tools) as { argv: string[] }).argv, ['node', 'podpath.js', 'image', 'echo', '--port', '80', '--udp-port', '81', '--message', 'v2']);
    assert.deepEqual((containerCommand({ name: 'c', image: 'podpath/coredns' }, ['node', 'podpath.js'], () => '/kc', native) as { argv: string[] }).argv, ['node', 'podpath.js', 'dns', '--kubeconfig', '/kc']);
  });
});
