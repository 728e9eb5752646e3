// `podpath apiserver`: runs in the foreground until SIGINT/SIGTERM.
import { isApiError } from '../api/errors.ts';
import { findKind } from '../api/resources.ts';
import { readManifests } from '../api/manifest.ts';
import { decodeFor } from '../apiserver/decode.ts';
import type { Registry } from '../apiserver/registry.ts';
import { startApiServer, type ApiServerOptions } from '../apiserver/server.ts';
import { onStop } from '../util/lifecycle.ts';

export interface RunOptions extends Omit<ApiServerOptions, 'log'> {
  /** manifests to create or update once the server is up */
  apply?: string[];
}

/** Creates each object of a multi-document YAML file, or replaces it if it exists. */
export function applyFile(registry: Registry, file: string): string[] {
  const out: string[] = [];
  for (const { obj } of readManifests([file])) {
    const rt = findKind(String(obj.apiVersion), String(obj.kind));
    if (!rt) throw new Error(`${file}: kind ${String(obj.kind)} (${String(obj.apiVersion)}) is not served by podpath`);
    const { obj: decoded } = decodeFor(rt, obj, 'Strict');
    const namespace = rt.namespaced ? (decoded.metadata.namespace ?? 'default') : undefined;
    const ctx = { rt, ...(namespace ? { namespace } : {}), name: decoded.metadata.name, query: new URLSearchParams({ fieldManager: 'podpath-apply' }) };
    const existing = registry.tryGet(rt, namespace, decoded.metadata.name!);
    if (existing) registry.updateObject(ctx, decoded, existing);
    else registry.createObject(ctx, decoded);
    out.push(`${rt.resource}${rt.group ? `.${rt.group}` : ''}/${decoded.metadata.name} ${existing ? 'configured' : 'created'}`);
  }
  return out;
}

export async function runApiServer(opts: RunOptions): Promise<void> {
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const server = await startApiServer({ ...opts, log });
  process.stdout.write(`podpath apiserver listening on ${server.url}${opts.kubeconfig ? ` (kubeconfig: ${opts.kubeconfig})` : ''}\n`);
  try {
    for (const f of opts.apply ?? []) for (const line of applyFile(server.registry, f)) process.stdout.write(`${line}\n`);
    await server.registry.store.sync();
  } catch (e) {
    await server.close();
    throw isApiError(e) ? new Error(e.message) : e;
  }
  if (opts.kubeconfig && opts.apply?.length) {
    process.stdout.write(`\nTry it:\n  export KUBECONFIG=${opts.kubeconfig}\n  kubectl get svc api-service\n  kubectl get deploy,endpoints -o wide\n  kubectl describe svc api-service\n(Ctrl-C stops the server; its state stays in ${opts.dataDir}.)\n`);
  }
  onStop(() => server.close());
}
