// pods/{name}/log: the options decoded and validated, the container chosen as upstream's
// LogLocation does, then the node agent's /containerLogs proxied (as the kubelet's) — its body
// streamed as it comes, its error answers turned into Status objects as the API server's
// response checker does.
import https from 'node:https';
import type tls from 'node:tls';
import type { ServerResponse } from 'node:http';
import { ApiError, errors } from '../api/errors.ts';
import { findResource, type ResourceType } from '../api/resources.ts';
import type { Node, Pod } from '../api/types.ts';
import { keepSession, kubeletTLS, tlsVerifyError, type KubeletClientConfig } from './kubeletclient.ts';
import type { Registry } from './registry.ts';
import { decodePodLogOptions, kubeletLogQuery, validatePodLogOptions } from './podlogoptions.ts';

/** How much of an error answer from the kubelet is read. */
const maxErrorBodyBytes = 50_000;

/** The container a request is for: the one named (it must be the pod's), else the pod's only one. */
export function logContainer(pod: Pod, asked: string | undefined): string {
  const name = pod.metadata.name!;
  const spec = pod.spec as Pod['spec'] & { ephemeralContainers?: { name: string }[] };
  // init containers first, then containers, then ephemeral ones (podutil.VisitContainers)
  const all = [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])].map((c) => c.name);
  if (asked) {
    if (!all.includes(asked)) throw errors.badRequest(`container ${asked} is not valid for pod ${name}`);
    return asked;
  }
  const containers = spec.containers ?? [];
  if (containers.length === 1) return containers[0]!.name;
  if (containers.length === 0) throw errors.badRequest(`a container name must be specified for pod ${name}`);
  throw errors.badRequest(`a container name must be specified for pod ${name}, choose one of: [${all.join(' ')}]`);
}

/** The Status for a kubelet's error answer (GenericHttpResponseChecker). */
export function kubeletError(code: number, body: string, podName: string): ApiError {
  if (code === 500) return errors.internal(body);
  if (code === 400) return errors.badRequest(body);
  const details = { name: podName, kind: 'pods/log' };
  const generic: Record<number, [ConstructorParameters<typeof ApiError>[1], string]> = {
    404: ['NotFound', 'the server could not find the requested resource'],
    401: ['Unauthorized', 'the server has asked for the client to provide credentials'],
    403: ['Forbidden', body],
    409: ['Conflict', 'the server reported a conflict'],
    422: ['Invalid', 'the server rejected our request due to an error in our request'],
    503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
  };
  let [reason, message] = generic[code] ?? ['', `the server responded with the status code ${code} but did not return more information`];
  if (!generic[code] && code >= 500) [reason, message] = ['InternalError', `an error on the server (${JSON.stringify(body)}) has prevented the request from succeeding`];
  return new ApiError(code, reason, `${message} ( pods/log ${podName})`, details);
}

/** Go's net/http client error for a kubelet it cannot reach. */
function dialError(url: string, addr: string, port: number, e: NodeJS.ErrnoException): ApiError {
  const why = e.code === 'ECONNREFUSED' ? `dial tcp ${addr}:${port}: connect: connection refused` : e.code === 'ETIMEDOUT' ? `dial tcp ${addr}:${port}: i/o timeout` : (tlsVerifyError(e, addr) ?? e.message);
  // Not a Status error upstream: a 500 with no reason.
  return new ApiError(500, '', `Get ${JSON.stringify(url)}: ${why}`);
}

/** pods/{name}/log. Resolves once the answer is under way; rejects (before anything is sent) with the Status to answer. */
export function podLogs(registry: Registry, r: { rt: ResourceType; namespace?: string; name?: string }, q: URLSearchParams, res: ServerResponse, kubelet: KubeletClientConfig): Promise<void> {
  const opts = decodePodLogOptions(q);
  const errs = validatePodLogOptions(opts);
  if (errs.length) throw errors.invalid('', 'PodLogOptions', r.name!, errs);
  const pod = registry.get(r.rt, r.namespace, r.name!) as Pod;
  const podName = pod.metadata.name!;
  const container = logContainer(pod, opts.container);
  // A pod not on a node yet has no logs: an empty answer.
  if (!pod.spec.nodeName) {
    res.writeHead(204);
    res.end();
    return Promise.resolve();
  }
  const node = registry.tryGet(findResource('', 'v1', 'nodes')!, undefined, pod.spec.nodeName) as Node | undefined;
  const addr = node?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  const port = node?.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 10250;
  if (!addr) throw errors.badRequest(`node ${pod.spec.nodeName} has no InternalIP`);
  const path = `/containerLogs/${encodeURIComponent(pod.metadata.namespace!)}/${encodeURIComponent(podName)}/${encodeURIComponent(container)}`;
  const qs = kubeletLogQuery(opts).toString();
  const url = `https://${addr.includes(':') ? `[${addr}]` : addr}:${port}${path}${qs ? `?${qs}` : ''}`;
  return new Promise((resolve, reject) => {
    const up = https.get({ host: addr, port, path: `${path}${qs ? `?${qs}` : ''}`, agent: false, ...kubeletTLS(kubelet, addr, port) }, (ur) => {
      const code = ur.statusCode ?? 500;
      if (code < 200 || code > 206) {
        let body = Buffer.alloc(0);
        ur.on('data', (d: Buffer) => {
          if (body.length < maxErrorBodyBytes) body = Buffer.concat([body, d]).subarray(0, maxErrorBodyBytes);
        });
        ur.on('end', () => reject(kubeletError(code, body.toString(), podName)));
        ur.on('error', (e) => reject(errors.internal(e.message)));
        return;
      }
      res.writeHead(code, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
      res.flushHeaders();
      ur.pipe(res);
      resolve();
    });
    up.on('socket', (s) => keepSession(kubelet, addr, port, s as tls.TLSSocket));
    up.on('error', (e: NodeJS.ErrnoException) => {
      if (!res.headersSent) return reject(dialError(url, addr, port, e));
      res.destroy();
    });
    res.on('close', () => up.destroy());
  });
}
