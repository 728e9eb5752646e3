// `podpath up --proxy-config`: the file fills kube-proxy's ConfigMap (config.conf), as kubeadm's
// KubeProxyConfiguration does — the file's mode is the lab's, and its scheduler is what the table
// shows; an edited ConfigMap takes effect when the pods are deleted (podpath restart proxy-NODE).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { readState } from '../../src/lab/lab.ts';
import { eventually, kubectlBin, tempDir } from '../helpers/apiserver.ts';
import { explained, isRoot, kubeProxyLog, startLab } from '../helpers/lab.ts';

it('runs kube-proxy from a KubeProxyConfiguration file through its ConfigMap, and from the edited ConfigMap after a restart', { skip: !isRoot && 'labs need root' }, async (t) => {
  const file = path.join(tempDir('proxy-config'), 'config.conf');
  fs.writeFileSync(file, 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: userspace\nipvs:\n  scheduler: sh\n');
  const lab = await startLab({ proxyConfig: file, args: ['--no-netpol'] });
  t.after(() => lab.down());
  await explained(lab, async () => {
    const node = readState(lab.name)!.nodes[0]!.name;
    assert.match(kubeProxyLog(lab, node), /Using userspace Proxier/);
    const conf = lab.ok(['get', 'cm', 'kube-proxy', '-n', 'kube-system', '-o', 'jsonpath={.data.config\\.conf}']);
    assert.match(conf, /^mode: userspace$/m);
    assert.match(conf, /^ {2}scheduler: sh$/m);
    assert.match(conf, /^ {2}kubeconfig: \/var\/lib\/kube-proxy\/kubeconfig\.conf$/m, "kubeadm's fields around the file's");
    const table = () => lab.podpath(['proxy', 'ipvsadm']).stdout;
    await eventually(() => /^UDP {2}10\.96\.0\.10:53 sh$/m.test(table()), 20_000, 'the DNS Service balanced by sh');
    // Edited and restarted, as `kubectl edit configmap kube-proxy` and deleting its pods do.
    const edit = spawnSync(kubectlBin, ['edit', 'cm', 'kube-proxy', '-n', 'kube-system'], {
      encoding: 'utf8',
      env: { ...process.env, HOME: tempDir('home'), KUBECONFIG: lab.kubeconfig, KUBE_EDITOR: `sed -i 's/scheduler: sh/scheduler: lc/'` },
    });
    assert.equal(edit.status, 0, edit.stderr);
    const r = lab.podpath(['restart', `proxy-${node}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^pod kube-system\/kube-proxy-\w{5} deleted; kube-proxy runs again as pod kube-system\/kube-proxy-\w{5}$/m);
    await eventually(() => /^UDP {2}10\.96\.0\.10:53 lc$/m.test(table()), 20_000, 'the DNS Service balanced by lc');
  });
});
