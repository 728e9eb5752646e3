// pods/exec, pods/attach and pods/portforward: the upgrade requests of `kubectl exec`, `attach`
// and `port-forward` (WebSocket, or SPDY/3.1 from older clients). As kube-apiserver, the pod and
// container are checked here (upstream's texts), then the connection is proxied to the node
// agent's streaming server (the kubelet's /exec, /attach, /portForward) byte for byte: the agent
// answers the upgrade and speaks the stream protocols, as the kubelet does behind an API server.
import type { IncomingMessage } from 'node:http';
import type { OnReadOpts } from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { ApiError, errors, isApiError } from '../api/errors.ts';
import { findResource } from '../api/resources.ts';
import type { Node, Pod } from '../api/types.ts';
import { parseTarget } from '../util/httpserver.ts';
import { ReadRing, readRingChunk } from '../util/readring.ts';
import { keepSession, kubeletTLS, tlsVerifyError, type KubeletClientConfig } from './kubeletclient.ts';
import type { Registry } from './registry.ts';

export const streamingSubresources = new Set(['exec', 'attach', 'portforward']);

export interface StreamingOptions {
  registry: Registry;
  /** authenticates and authorizes a request for its path and query; throws 401 or 403 */
  admit: (req: IncomingMessage, pathname: string, query: URLSearchParams) => void;
  /** /api/v1/... resolved to a resource (http.ts's route) */
  route: (pathname: string) => { rt: { resource: string; group: string }; namespace?: string; name?: string; subresource?: string } | undefined;
  /** how agents are dialed */
  kubelet: KubeletClientConfig;
  log?: (line: string) => void;
}

function reply(socket: Duplex, e: ApiError): void {
  const body = JSON.stringify(e.status);
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' }[e.status.code] ?? 'Error';
  socket.end(`HTTP/1.1 ${e.status.code} ${reason}\r\nContent-Type: application/json\r\nCache-Control: no-cache, private\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** The container an exec or attach means: the one named, or the only one (upstream's streamLocation). */
export function streamContainer(pod: Pod, asked: string): string {
  const name = pod.metadata.name!;
  const names = (pod.spec.containers ?? []).map((c) => c.name);
  const init = (pod.spec.initContainers ?? []).map((c) => c.name);
  const ephemeral = ((pod.spec as { ephemeralContainers?: { name: string }[] }).ephemeralContainers ?? []).map((c) => c.name);
  if (!asked) {
    if (names.length === 1) return names[0]!;
    if (names.length === 0) throw errors.badRequest(`a container name must be specified for pod ${name}`);
    let msg = `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`;
    if (init.length) msg += ` or one of the init containers: [${init.join(' ')}]`;
    if (ephemeral.length) msg += ` or one of the ephemeral containers: [${ephemeral.join(' ')}]`;
    throw errors.badRequest(msg);
  }
  if (![...names, ...init, ...ephemeral].includes(asked)) throw errors.badRequest(`container ${asked} is not valid for pod ${name}`);
  return asked;
}

/** The node agent's address and port for a pod (its Node's InternalIP and kubelet port). */
export function agentEndpoint(registry: Registry, pod: Pod): { host: string; port: number } {
  if (!pod.spec.nodeName) throw errors.badRequest(`pod ${pod.metadata.name} does not have a host assigned`);
  return nodeEndpoint(registry, pod.spec.nodeName);
}

/** A node agent's address and port: its Node's InternalIP and kubelet port. */
export function nodeEndpoint(registry: Registry, nodeName: string): { host: string; port: number } {
  const node = registry.tryGet(findResource('', 'v1', 'nodes')!, undefined, nodeName) as Node | undefined;
  const host = node?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  const port = node?.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 10250;
  if (!host) throw errors.badRequest(`node ${nodeName} has no InternalIP`);
  return { host, port };
}

/** For the HTTPS server's 'upgrade' event. */
export function createUpgradeHandler(o: StreamingOptions): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    socket.on('error', () => {});
    try {
      const target = parseTarget(req.url);
      const path = target ? (target.pathname.length > 1 ? target.pathname.replace(/\/+$/, '') : target.pathname) : '';
      const r = target ? o.route(path) : undefined;
      if (!target || !r || r.rt.group !== '' || r.rt.resource !== 'pods' || !r.name || r.namespace === undefined || !streamingSubresources.has(r.subresource ?? '')) {
        throw errors.generic(404);
      }
      o.admit(req, target.pathname, target.query);
      const q = target.query;
      if (q.getAll('dryRun').length) throw errors.badRequest('dryRun is not supported');
      const pod = o.registry.tryGet(findResource('', 'v1', 'pods')!, r.namespace, r.name) as Pod | undefined;
      if (!pod) throw errors.notFound({ group: '', resource: 'pods' }, r.name);
      let agentPath: string;
      if (r.subresource === 'portforward') agentPath = `/portForward/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.name)}`;
      else {
        const container = streamContainer(pod, q.get('container') ?? '');
        agentPath = `/${r.subresource}/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.name)}/${encodeURIComponent(container)}?${q}`;
      }
      const { host, port } = agentEndpoint(o.registry, pod);
      proxy(req, socket, head, host, port, agentPath, o.kubelet);
    } catch (e) {
      if (isApiError(e)) return reply(socket, e);
      o.log?.(`internal error on upgrade ${req.method} ${req.url}: ${(e as Error).stack ?? String(e)}`);
      reply(socket, errors.internal((e as Error).message));
    }
  };
}

/** How much a relayed direction may hold unsent before its reading pauses. */
const relayWindow = 1 << 20;

/**
 * The client's bytes written to the agent, the agent's side ended when the client's ends. As
 * pipe(), but reading pauses only when a MiB waits unsent, not at the 16 KiB highWaterMark:
 * through TLS each read is one 16 KiB record, and pipe() stopped and restarted reading the
 * socket for nearly every one.
 */
function relay(from: Duplex, to: Duplex): void {
  from.on('data', (d: Buffer) => {
    if (to.write(d) || to.writableLength < relayWindow) return;
    from.pause();
    to.once('drain', () => from.resume());
  });
  from.on('end', () => to.end());
}

/** Passes the upgrade request to the agent and then the bytes both ways; the agent's answer (101 or a refusal) goes back as it is. */
function proxy(req: IncomingMessage, socket: Duplex, head: Buffer, host: string, port: number, agentPath: string, kubelet: KubeletClientConfig): void {
  // The agent's bytes (a port-forward's downloads) are read into a ring and written to the client
  // from there: no buffer per TLS record, so no full collections from their external memory.
  const ring = new ReadRing(relayWindow);
  let paused = false;
  const fromAgent = (n: number, b: Buffer): boolean => {
    const { bytes, release } = ring.commit(b, n);
    socket.write(bytes, () => {
      release();
      if (paused && ring.used <= relayWindow / 2) {
        paused = false;
        upstream.resume();
      }
    });
    // once paused, only a write's release resumes reading (data already decrypted may still come)
    if (ring.used > relayWindow - 2 * readRingChunk) paused = true;
    return !paused;
  };
  // (Node's TLS client takes onread as net.connect() does; its types list it for net only.)
  const options: tls.ConnectionOptions & { onread: OnReadOpts } = { host, port, ...kubeletTLS(kubelet, host, port), onread: { buffer: () => ring.next(), callback: fromAgent } };
  const upstream = tls.connect(options);
  keepSession(kubelet, host, port, upstream);
  upstream.setNoDelay(true);
  let connected = false;
  upstream.on('secureConnect', () => {
    connected = true;
    const lines = [`${req.method} ${agentPath} HTTP/1.1`, `Host: ${host}:${port}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      if (/^(host|authorization|content-length|transfer-encoding)$/i.test(name)) continue;
      lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
    }
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) upstream.write(head);
    relay(socket, upstream);
  });
  upstream.on('end', () => socket.end());
  upstream.on('error', (e: NodeJS.ErrnoException) => {
    if (!connected) reply(socket, errors.internal(`error dialing backend: ${tlsVerifyError(e, host) ?? `dial tcp ${host}:${port}: ${e.message}`}`));
    else socket.destroy();
  });
  socket.on('close', () => upstream.destroy());
  // What the agent sent is flushed (the pipe ends the client's socket) before it is let go.
  upstream.on('close', () => {
    socket.end();
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}
