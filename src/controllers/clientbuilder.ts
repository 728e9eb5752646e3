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
      let timer: NodeJS.Timeout | undefined;
      let renewing = false;
      let issuedAt = Date.now();
      const schedule = (ms: number) => {
        if (closed) return;
        if (timer) {
          clearTimeout(timer);
          timers.delete(timer);
        }
        const t = (timer = setTimeout(() => {
          timers.delete(t);
          timer = undefined;
          renew();
        }, ms));
        timers.add(t);
      };
      const renew = () => {
        if (renewing || closed) return;
        renewing = true;
        controllerToken(root, name).then(
          (next) => {
            renewing = false;
            issuedAt = Date.now();
            cfg.token = next.token;
            schedule(Math.max(1000, 0.8 * (next.expiresAt - Date.now())));
          },
          (e: Error) => {
            renewing = false;
            log(`renewing the token of service account ${controllerNamespace}/${name}: ${e.message}`);
            schedule(retryMs);
          },
        );
      };
      // A 401 means the token is no longer good (revoked, or its service account remade): a new
      // one is asked for at once rather than at the timer, as client-go resets its cached token.
      // Answers to requests sent with the old token may still come in just after; one new token a second at most.
      cfg.onUnauthorized = () => {
        if (renewing || Date.now() - issuedAt < 1000) return;
        log(`the token of service account ${controllerNamespace}/${name} was refused (401): asking for a new one`);
        renew();
      };
      schedule(Math.max(1000, 0.8 * (first.expiresAt - Date.now())));
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
