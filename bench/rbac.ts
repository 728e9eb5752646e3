// RBAC authorization per request, with 1,000 RoleBindings (100 namespaces × 10 service
// accounts, each bound to its namespace's Role) and 100 ClusterRoleBindings besides the
// bootstrap policy. Measured in process, on the request path's own steps — the request's
// attributes read from its URL, impersonation (none asked) and the decision:
//   admin     the admin credential (system:masters: allowed before RBAC is consulted), the reference
//   allowed   a service account the namespace's RoleBinding allows
//   denied    the same service account asking for Secrets (every binding of its groups visited)
//   rebuild   the index rebuilt after a change to a Role or binding (once per change, not per request)
// Beside them the Node authorizer (in front of RBAC), for a node agent's credential over a graph
// of --pods pods (each with a secret and a configmap) spread over 100 nodes:
//   node allowed   a node reading the secret of a pod bound to it (a graph lookup)
//   node denied    the same node reading another node's pod's secret (no relationship: then RBAC)
//   node rules     a node listing Services (NodeRules, what the authorizer does not subdivide)
//   graph build    the graph built from every pod (once, at the first node request), and a pod's update
// Then over HTTPS against a real `podpath apiserver` holding the same RoleBindings: sequential
// GETs of a namespace's ConfigMaps with the admin token (the reference), and with the admin
// token impersonating the service account (Impersonate-User: the impersonation check is the
// admin's, so what differs is the service account's RBAC decision).
//   node --import tsx bench/rbac.ts [--bindings 1000] [--requests 200000] [--http 2000] [--pods 5000]
import https from 'node:https';
import type { ClusterRole, Role, RoleBinding } from '../src/api/types.ts';
import { adminUser, serviceAccountGroups, serviceAccountUsername, type UserInfo } from '../src/apiserver/authn.ts';
import { Authorizer } from '../src/apiserver/authz.ts';
import { graphOf } from '../src/apiserver/nodegraph.ts';
import type { Pod } from '../src/api/types.ts';
import { clusterRoleBindings, clusterRoles } from '../src/apiserver/bootstrappolicy.ts';
import { impersonate } from '../src/apiserver/impersonation.ts';
import { RbacIndex } from '../src/apiserver/rbac.ts';
import { requestAttributes } from '../src/apiserver/requestinfo.ts';
import { startApiServer } from '../test/helpers/apiserver.ts';
import { arg } from './common.ts';

const bindings = Number(arg('bindings', '1000'));
const requests = Number(arg('requests', '200000'));
const httpRequests = Number(arg('http', '2000'));
const podCount = Number(arg('pods', '5000'));
const nodeCount = 100;
const perNamespace = 10;
const namespaces = Math.ceil(bindings / perNamespace);
const rbac = 'rbac.authorization.k8s.io';

const roles: Role[] = [];
const roleBindings: RoleBinding[] = [];
const extraClusterRoles: ClusterRole[] = [];
const extraClusterBindings: RoleBinding[] = [];
for (let n = 0; n < namespaces; n++) {
  const ns = `team-${n}`;
  roles.push({ apiVersion: `${rbac}/v1`, kind: 'Role', metadata: { namespace: ns, name: 'app' }, rules: [{ verbs: ['get', 'list', 'watch'], apiGroups: ['', 'apps'], resources: ['pods', 'services', 'configmaps', 'deployments'] }] });
  for (let i = 0; i < perNamespace && roleBindings.length < bindings; i++) {
    roleBindings.push({ apiVersion: `${rbac}/v1`, kind: 'RoleBinding', metadata: { namespace: ns, name: `app-${i}` }, roleRef: { apiGroup: rbac, kind: 'Role', name: 'app' }, subjects: [{ kind: 'ServiceAccount', name: `sa-${i}`, namespace: ns }] });
  }
}
for (let i = 0; i < 100; i++) {
  extraClusterRoles.push({ apiVersion: `${rbac}/v1`, kind: 'ClusterRole', metadata: { name: `reader-${i}` }, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['nodes'] }] });
  extraClusterBindings.push({ apiVersion: `${rbac}/v1`, kind: 'ClusterRoleBinding', metadata: { name: `reader-${i}` }, roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: `reader-${i}` }, subjects: [{ kind: 'User', apiGroup: rbac, name: `user-${i}` }] });
}
const policy = () => ({ roles, roleBindings, clusterRoles: [...clusterRoles, ...extraClusterRoles], clusterRoleBindings: [...clusterRoleBindings, ...extraClusterBindings] });
const benchPod = (i: number): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: `team-${i % namespaces}`, name: `pod-${i}` },
    spec: { nodeName: `node-${i % nodeCount}`, serviceAccountName: 'default', containers: [{ name: 'c', image: 'x', envFrom: [{ configMapRef: { name: `cm-${i}` } }] }], volumes: [{ name: 's', secret: { secretName: `secret-${i}` } }] },
  }) as Pod;
const allPods = Array.from({ length: podCount }, (_, i) => benchPod(i));
const graph = graphOf(allPods);
const authorizer = new Authorizer(policy, () => graph);

const sa = (ns: string, name: string): UserInfo => ({ username: serviceAccountUsername(ns, name), groups: serviceAccountGroups(ns) });
const ns = `team-${Math.floor(namespaces / 2)}`;
const worker = sa(ns, 'sa-3');
const noHeaders: Record<string, string[] | undefined> = {};
const none = new URLSearchParams();

/** The request path's authorization step; returns whether it was allowed. */
function step(user: UserInfo, path: string): boolean {
  const u = impersonate(user, noHeaders, authorizer);
  return authorizer.authorize(requestAttributes(u, 'GET', path, none)).decision === 'Allow';
}

function perRequestMicros(user: UserInfo, path: string, want: boolean): number {
  if (step(user, path) !== want) throw new Error(`${user.username} GET ${path}: expected ${want ? 'allowed' : 'denied'}`);
  for (let i = 0; i < 20_000; i++) step(user, path);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < requests; i++) step(user, path);
  return Number(process.hrtime.bigint() - t0) / 1e3 / requests;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const podsPath = `/api/v1/namespaces/${ns}/pods`;
const secretsPath = `/api/v1/namespaces/${ns}/secrets`;
const rounds = 5;
const admin: number[] = [];
const allowed: number[] = [];
const denied: number[] = [];
for (let r = 0; r < rounds; r++) {
  admin.push(perRequestMicros(adminUser, podsPath, true));
  allowed.push(perRequestMicros(worker, podsPath, true));
  denied.push(perRequestMicros(worker, secretsPath, false));
}
const rebuild: number[] = [];
for (let r = 0; r < 20; r++) {
  const t0 = process.hrtime.bigint();
  new RbacIndex(policy());
  rebuild.push(Number(process.hrtime.bigint() - t0) / 1e6);
}

// ---- the Node authorizer ----
const nodeUser: UserInfo = { username: 'system:node:node-7', groups: ['system:nodes', 'system:authenticated'] };
const own = allPods[7]!;
const other = allPods[8]!;
const secretOf = (p: Pod) => `/api/v1/namespaces/${p.metadata.namespace}/secrets/secret-${p.metadata.name!.slice(4)}`;
const nodeAllowed: number[] = [];
const nodeDenied: number[] = [];
const nodeRules: number[] = [];
for (let r = 0; r < rounds; r++) {
  nodeAllowed.push(perRequestMicros(nodeUser, secretOf(own), true));
  nodeDenied.push(perRequestMicros(nodeUser, secretOf(other), false));
  nodeRules.push(perRequestMicros(nodeUser, '/api/v1/services', true));
}
const graphBuild: number[] = [];
for (let r = 0; r < 5; r++) {
  const t0 = process.hrtime.bigint();
  graphOf(allPods);
  graphBuild.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
const t1 = process.hrtime.bigint();
const updates = 100_000;
for (let i = 0; i < updates; i++) graph.setPod(allPods[i % podCount]!);
const podUpdateMicros = Number(process.hrtime.bigint() - t1) / 1e3 / updates;

const total = roleBindings.length + clusterRoleBindings.length + extraClusterBindings.length;
console.log(`RBAC authorization per request: ${roleBindings.length} RoleBindings, ${clusterRoleBindings.length + extraClusterBindings.length} ClusterRoleBindings (${total} bindings), median of ${rounds} rounds of ${requests} requests`);
const a = median(admin);
console.log(`  admin (system:masters, reference)  ${a.toFixed(3)} µs`);
for (const [name, xs] of [['allowed (service account)', allowed], ['denied (service account)', denied]] as const) {
  const m = median(xs);
  console.log(`  ${name.padEnd(34)} ${m.toFixed(3)} µs   (+${(m - a).toFixed(3)} µs over admin; aim: < 100 µs)`);
}
console.log(`  index rebuild after a change        ${median(rebuild).toFixed(2)} ms`);
console.log(`Node authorizer per request (before RBAC), a node's credential, ${podCount} pods on ${nodeCount} nodes`);
for (const [name, xs] of [['node allowed (its pod\'s secret)', nodeAllowed], ['node denied (another node\'s)', nodeDenied], ['node rules (list services)', nodeRules]] as const) {
  const m = median(xs);
  console.log(`  ${name.padEnd(34)} ${m.toFixed(3)} µs   (+${(m - a).toFixed(3)} µs over admin; aim: < 100 µs)`);
}
console.log(`  graph build (${podCount} pods)             ${median(graphBuild).toFixed(2)} ms; a pod's update ${podUpdateMicros.toFixed(2)} µs`);

// ---- over HTTPS ----
const s = await startApiServer();
try {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca: s.caCert });
  const call = (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request({ host: '127.0.0.1', port: s.port, method, path: p, agent, servername: 'localhost', headers: { Authorization: `Bearer ${s.token}`, ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(data)) } : {}), ...headers } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(data);
    });
  const inParallel = async <T>(items: T[], f: (x: T) => Promise<number>) => {
    for (let i = 0; i < items.length; i += 8) {
      for (const code of await Promise.all(items.slice(i, i + 8).map(f))) if (code >= 300) throw new Error(`setup request answered ${code}`);
    }
  };
  const rbacPath = (kind: string, namespace: string) => `/apis/${rbac}/v1/namespaces/${namespace}/${kind}`;
  await inParallel([...new Set(roles.map((r) => r.metadata.namespace!))], (n) => call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } }));
  await inParallel(roles, (r) => call('POST', rbacPath('roles', r.metadata.namespace!), r));
  await inParallel(roleBindings, (b) => call('POST', rbacPath('rolebindings', b.metadata.namespace!), b));
  const target = `/api/v1/namespaces/${ns}/configmaps`;
  const as = { 'Impersonate-User': worker.username };
  if ((await call('GET', target, undefined, as)) !== 200) throw new Error('the service account may not list ConfigMaps');
  if ((await call('GET', `/api/v1/namespaces/${ns}/secrets`, undefined, as)) !== 403) throw new Error('the service account may list Secrets');
  const timed = async (headers: Record<string, string>) => {
    for (let i = 0; i < 200; i++) await call('GET', target, undefined, headers);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < httpRequests; i++) await call('GET', target, undefined, headers);
    return Number(process.hrtime.bigint() - t0) / 1e3 / httpRequests;
  };
  const adminHttp: number[] = [];
  const saHttp: number[] = [];
  for (let r = 0; r < rounds; r++) {
    adminHttp.push(await timed({}));
    saHttp.push(await timed(as));
  }
  const ah = median(adminHttp);
  const sh = median(saHttp);
  console.log(`over HTTPS (podpath apiserver, ${roleBindings.length} RoleBindings), GET ${target}, median of ${rounds} rounds of ${httpRequests} sequential requests`);
  console.log(`  admin token (reference)            ${ah.toFixed(1)} µs`);
  console.log(`  as the service account (RBAC)      ${sh.toFixed(1)} µs   (+${(sh - ah).toFixed(1)} µs over admin; aim: < 100 µs)`);
  agent.destroy();
} finally {
  await s.dispose();
}
