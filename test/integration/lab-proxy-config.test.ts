// `podpath up --proxy-config`: every node's kube-proxy runs from a KubeProxyConfiguration file,
// as a kube-proxy DaemonSet runs from its ConfigMap — the file's mode is the lab's, and its
// scheduler is what the table shows; `podpath restart` rereads an edited file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { labPaths, readState } from '../../src/lab/lab.ts';
import { eventually, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab } from '../helpers/lab.ts';

it('runs kube-proxy from a KubeProxyConfiguration file, and from the edited file after a restart', { skip: !isRoot && 'labs need root' }, async (t) => {
  const file = path.join(tempDir('proxy-config'), 'config.conf');
  const conf = (scheduler: string) => `apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: userspace\nipvs:\n  scheduler: ${scheduler}\n`;
  fs.writeFileSync(file, conf('sh'));
  const lab = await startLab({ proxyConfig: file });
  t.after(() => lab.down());
  await explained(lab, async () => {
    const node = readState(lab.name)!.nodes[0]!.name;
    const log = () => fs.readFileSync(path.join(labPaths(lab.name).logs, `proxy-${node}.log`), 'utf8');
    assert.match(log(), /Using userspace Proxier/);
    const table = () => lab.podpath(['proxy', 'ipvsadm']).stdout;
    await eventually(() => /^UDP {2}10\.96\.0\.10:53 sh$/m.test(table()), 20_000, 'the DNS Service balanced by sh');
    // Edited and restarted, as after `kubectl edit configmap kube-proxy` and deleting its pods.
    fs.writeFileSync(file, conf('lc'));
    const r = lab.podpath(['restart', `proxy-${node}`]);
    assert.equal(r.code, 0, r.stderr);
    await eventually(() => /^UDP {2}10\.96\.0\.10:53 lc$/m.test(table()), 20_000, 'the DNS Service balanced by lc');
  });
});
