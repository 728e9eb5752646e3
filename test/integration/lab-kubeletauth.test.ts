// The node agent's port 10250 as a pod sees it: HTTPS with a serving certificate of the lab CA
// (podpath curl trusts it), Go's 400 to plain HTTP, 401 without credentials, 403 with the
// kubelet's text for a service account token without nodes/proxy (nodes/stats for /stats), the
// answer itself once RBAC grants it — while kubectl logs and exec, which reach the agent with
// the API server's client certificate, keep working.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../helpers/apiserver.ts';
import { explained, isRoot, startLab, type TestLab } from '../helpers/lab.ts';

describe("the node agent's authentication and authorization in a lab", { skip: !isRoot && 'labs need root' }, () => {
  let lab: TestLab;
  let node: string;

  before(async () => {
    lab = await startLab({ files: [path.join(repoRoot, 'test/fixtures/exec-lab.yaml')], args: ['--no-netpol', '--no-dns'], tag: 'ka' });
    node = lab.ok(['get', 'nodes', '-o', 'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}']).trim();
  });
  after(async () => {
    if (lab) {
      const r = await lab.down();
      assert.equal(r.code, 0, r.stderr);
    }
  });

  /** curl from the web pod: the body and, on a last line, the status. */
  const fromPod = (url: string, extra: string[] = []) => {
    const r = lab.curl('pod/default/web', url, ['-w', '\n%{http_code}', ...extra]);
    const i = r.stdout.lastIndexOf('\n');
    return { body: r.stdout.slice(0, i), status: Number(r.stdout.slice(i + 1)), stderr: r.stderr };
  };

  it('refuses a pod: plain HTTP gets 400, HTTPS without credentials 401, a token without nodes/proxy 403', () =>
    explained(lab, async () => {
      assert.deepEqual(fromPod(`http://${node}:10250/containerLogs/default/web/main`).body, 'Client sent an HTTP request to an HTTPS server.\n');
      // podpath curl trusts the lab CA: the agent's certificate is the lab CA's, for the node's address.
      let r = fromPod(`https://${node}:10250/containerLogs/default/web/main`);
      assert.deepEqual([r.status, r.body], [401, 'Unauthorized'], r.stderr);
      r = fromPod(`https://${node}:10250/exec/default/web/main?command=id&output=1`, ['-X', 'POST']);
      assert.deepEqual([r.status, r.body], [401, 'Unauthorized'], r.stderr);
      lab.ok(['create', 'serviceaccount', 'nobody']);
      const token = lab.ok(['create', 'token', 'nobody']).trim();
      const bearer = ['-H', `Authorization: Bearer ${token}`];
      r = fromPod(`https://${node}:10250/containerLogs/default/web/main`, bearer);
      assert.deepEqual([r.status, r.body], [403, 'Forbidden (user=system:serviceaccount:default:nobody, verb=get, resource=nodes, subresource=proxy)'], r.stderr);
      r = fromPod(`https://${node}:10250/stats/summary`, bearer);
      assert.deepEqual([r.status, r.body], [403, 'Forbidden (user=system:serviceaccount:default:nobody, verb=get, resource=nodes, subresource=stats)'], r.stderr);
      r = fromPod(`https://${node}:10250/portForward/default/web`, [...bearer, '-X', 'POST']);
      assert.deepEqual([r.status, r.body], [403, 'Forbidden (user=system:serviceaccount:default:nobody, verb=create, resource=nodes, subresource=proxy)'], r.stderr);
    }));

  it('serves a token whose service account RBAC grants nodes/proxy, and only that subresource', () =>
    explained(lab, async () => {
      lab.ok(['create', 'serviceaccount', 'node-reader']);
      lab.ok(['create', 'clusterrole', 'node-proxy', '--verb=get', '--resource=nodes/proxy']);
      lab.ok(['create', 'clusterrolebinding', 'node-reader', '--clusterrole=node-proxy', '--serviceaccount=default:node-reader']);
      const bearer = ['-H', `Authorization: Bearer ${lab.ok(['create', 'token', 'node-reader']).trim()}`];
      const logs = lab.ok(['logs', 'web']);
      let r = fromPod(`https://${node}:10250/containerLogs/default/web/main`, bearer);
      assert.deepEqual([r.status, r.body], [200, logs], r.stderr);
      r = fromPod(`https://${node}:10250/stats/summary`, bearer);
      assert.deepEqual([r.status, r.body], [403, 'Forbidden (user=system:serviceaccount:default:node-reader, verb=get, resource=nodes, subresource=stats)'], r.stderr);
    }));

  it('lets the API server in with its client certificate: kubectl exec and logs work', () =>
    explained(lab, async () => {
      const r = lab.kubectl(['exec', 'web', '--', 'sh', '-c', 'echo in-pod; exit 3']);
      assert.deepEqual([r.code, r.stdout], [3, 'in-pod\n'], r.stderr);
      assert.equal(lab.kubectl(['logs', 'web', '--tail=1']).code, 0);
    }));
});
