// Writing a kubeconfig for a podpath API server, and merging it into an existing one.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export interface KubeconfigEntry {
  /** context, cluster and user name */
  name: string;
  server: string;
  caCert: string;
  /** the user's credential: a bearer token, or a client certificate and its key (PEM) */
  token?: string;
  clientCert?: string;
  clientKey?: string;
}

interface NamedItem {
  name: string;
  [k: string]: unknown;
}

interface Kubeconfig {
  apiVersion: string;
  kind: string;
  clusters: NamedItem[];
  contexts: NamedItem[];
  users: NamedItem[];
  'current-context'?: string;
  preferences?: Record<string, unknown>;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

function entryDoc(e: KubeconfigEntry): Kubeconfig {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: [{ name: e.name, cluster: { server: e.server, 'certificate-authority-data': Buffer.from(e.caCert).toString('base64') } }],
    users: [{ name: e.name, user: e.clientCert ? { 'client-certificate-data': b64(e.clientCert), 'client-key-data': b64(e.clientKey ?? '') } : { token: e.token ?? '' } }],
    contexts: [{ name: e.name, context: { cluster: e.name, user: e.name } }],
    'current-context': e.name,
  };
}

function writeSecure(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
  fs.chmodSync(file, 0o600);
}

/** Writes a kubeconfig holding only this server (mode 0600). */
export function writeKubeconfig(file: string, e: KubeconfigEntry): void {
  writeSecure(file, YAML.stringify(entryDoc(e)));
}

/** Adds or replaces this server's cluster, user and context in `file`, making it current. */
export function mergeKubeconfig(file: string, e: KubeconfigEntry): void {
  let doc: Kubeconfig;
  try {
    doc = YAML.parse(fs.readFileSync(file, 'utf8')) as Kubeconfig;
  } catch {
    doc = { apiVersion: 'v1', kind: 'Config', clusters: [], contexts: [], users: [] };
  }
  doc ??= { apiVersion: 'v1', kind: 'Config', clusters: [], contexts: [], users: [] };
  const fresh = entryDoc(e);
  const upsert = (list: NamedItem[] | undefined, item: NamedItem) => [...(list ?? []).filter((x) => x.name !== item.name), item];
  doc.clusters = upsert(doc.clusters, fresh.clusters[0]!);
  doc.users = upsert(doc.users, fresh.users[0]!);
  doc.contexts = upsert(doc.contexts, fresh.contexts[0]!);
  doc['current-context'] = e.name;
  writeSecure(file, YAML.stringify(doc));
}

/** Removes this name's cluster, user and context from `file`, if present. */
export function unmergeKubeconfig(file: string, name: string): void {
  let doc: Kubeconfig;
  try {
    doc = YAML.parse(fs.readFileSync(file, 'utf8')) as Kubeconfig;
  } catch {
    return;
  }
  if (!doc) return;
  doc.clusters = (doc.clusters ?? []).filter((x) => x.name !== name);
  doc.users = (doc.users ?? []).filter((x) => x.name !== name);
  doc.contexts = (doc.contexts ?? []).filter((x) => x.name !== name);
  if (doc['current-context'] === name) delete doc['current-context'];
  writeSecure(file, YAML.stringify(doc));
}
