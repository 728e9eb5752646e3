// Each controller's client, as kube-controller-manager builds them (k8s.io/controller-manager
// pkg/clientbuilder). With --use-service-account-credentials each controller acts as its own
// service account in kube-system (made when missing), with a token the TokenRequest API issues
// and that is asked for anew before it expires — so its writes and events are authorized by its
// ClusterRole system:controller:NAME, and nothing more. The manager's own credential
// (system:kube-controller-manager) then only makes those, and feeds the shared informers.
// Without the flag every controller shares the manager's client.
import { ApiError } from '../api/errors.ts';
import { Client, collectionPath, objectPath, type ClientConfig } from '../client/client.ts';

/** The namespace of the controllers' service accounts. */
export const controllerNamespace = 'kube-system';

/** The lifetime of a controller's token (the dynamic client builder's hour); renewed at 80% of it. */
export const tokenExpirationSeconds = 3600;

export interface ClientBuilder {
  /** The client the named controller's requests go through (its user agent ends in /NAME). */
  client(name: string): Promise<Client>;
  /** Stops renewing tokens and closes the clients made. */
  close(): void;
}

/** Every controller shares the manager's own client. */
export function rootClientBuilder(root: Client): ClientBuilder {
  return { client: async () => root, close: () => {} };
}

interface IssuedToken {
  token: string;
  expiresAt: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A token of kube-system/NAME, the service account made first when it does not exist. */
async function controllerToken(root: Client, name: string): Promise<IssuedToken> {
  try {
    await root.get(objectPath('v1', 'serviceaccounts', controllerNamespace, name));
  } catch (e) {
    if (!(e instanceof ApiError) || e.status.code !== 404) throw e;
    await root.request('POST', collectionPath('v1', 'serviceaccounts', controllerNamespace), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: controllerNamespace } }).catch((err: unknown) => {
      if (!(err instanceof ApiError) || err.status.code !== 409) throw err;
    });
  }
  const tr = await root.request<{ status: { token: string; expirationTimestamp: string } }>('POST', objectPath('v1', 'serviceaccounts', controllerNamespace, name, 'token'), {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: tokenExpirationSeconds },
  });
  return { token: tr.status.token, expiresAt: Date.parse(tr.status.expirationTimestamp) };
}

/**
 * Each controller as its own service account. The first token is retried for `startTimeoutMs`
 * (the API server may still be coming up); a failed renewal is retried every `retryMs` while the
 * old token still works.
 */
export function serviceAccountClientBuilder(root: Client, log: (s: string) => void, o: { startTimeoutMs?: number; retryMs?: number } = {}): ClientBuilder {
  const startTimeoutMs = o.startTimeoutMs ?? 30_000;
  const retryMs = o.retryMs ?? 10_000;
  const clients: Client[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  const later = (ms: number, f: () => void) => {
    if (closed) return;
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    timers.add(t);
  };
  return {
    async client(name) {
      const deadline = Date.now() + startTimeoutMs;
      let first: IssuedToken | undefined;
      while (!first) {
        try {
          first = await controllerToken(root, name);
        } catch (e) {
          if (Date.now() >= deadline) throw new Error(`cannot get a token of service account ${controllerNamespace}/${name}: ${(e as Error).message}`);
          await sleep(1000);
        }
      }
      // The config object stays the client's: a renewed token is used from the next request on.
      const cfg: ClientConfig = { server: root.cfg.server, token: first.token, userAgent: `${root.cfg.userAgent ?? 'kube-controller-manager'}/${name}` };
      if (root.cfg.ca) cfg.ca = root.cfg.ca;
      if (root.cfg.insecure) cfg.insecure = true;
      const client = new Client(cfg);
      clients.push(client);
      const renew = () =>
        controllerToken(root, name).then(
          (next) => {
            cfg.token = next.token;
            renewAfter(next);
          },
          (e: Error) => {
            log(`renewing the token of service account ${controllerNamespace}/${name}: ${e.message}`);
            later(retryMs, renew);
          },
        );
      const renewAfter = (t: IssuedToken) => later(Math.max(1000, 0.8 * (t.expiresAt - Date.now())), renew);
      renewAfter(first);
      return client;
    },
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const c of clients) c.close();
    },
  };
}
