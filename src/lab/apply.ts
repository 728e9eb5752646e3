// The manifests `podpath up -f` applies: read and checked before anything is built, then applied
// with server-side apply, as `kubectl apply --server-side` does.
import { readManifests } from '../api/manifest.ts';
import { findKind } from '../api/resources.ts';
import type { KubeObject } from '../api/types.ts';
import { ApiError } from '../api/errors.ts';
import { collectionPath, objectPath, type Client } from '../client/client.ts';

/** The objects of `files`; refused, naming the file, when podpath does not serve a kind or an object has no name. */
export function readLabManifests(files: string[]): KubeObject[] {
  return readManifests(files).map(({ obj: o, file: p }) => {
    // Checked before anything is built: a lab is not made for manifests it cannot apply.
    if (!findKind(String(o.apiVersion), String(o.kind))) throw new Error(`${p}: kind ${o.kind} (${o.apiVersion}) is not served by podpath`);
    if (!o.metadata?.name) throw new Error(`${p}: ${o.kind} has no metadata.name`);
    return o;
  });
}

/** Server-side apply of each object; kubectl's "RESOURCE/NAME applied" line for each. */
export async function applyAll(client: Client, objs: KubeObject[]): Promise<string[]> {
  const lines: string[] = [];
  for (const o of objs) {
    const rt = findKind(String(o.apiVersion), String(o.kind))!;
    const ns = rt.namespaced ? (o.metadata?.namespace ?? 'default') : undefined;
    const p = `${objectPath(String(o.apiVersion), rt.resource, ns, o.metadata.name!)}?fieldManager=podpath&fieldValidation=Strict&force=true`;
    await client.request('PATCH', p, JSON.stringify(o), 'application/apply-patch+yaml');
    lines.push(`${rt.resource}${rt.group ? `.${rt.group}` : ''}/${o.metadata.name} applied`);
  }
  return lines;
}

/**
 * The cluster's add-ons, as kubeadm installs its own: each object created, and applied
 * (server-side, as applyAll) only if it exists already. A create is also the cheaper request:
 * the API server reads a JSON body, where an apply body is YAML (the Gateway API's CRDs are
 * half a megabyte of it).
 */
export async function installAddon(client: Client, objs: KubeObject[]): Promise<string[]> {
  const lines: string[] = [];
  for (const o of objs) {
    const rt = findKind(String(o.apiVersion), String(o.kind))!;
    const ns = rt.namespaced ? (o.metadata?.namespace ?? 'default') : undefined;
    try {
      await client.request('POST', `${collectionPath(String(o.apiVersion), rt.resource, ns)}?fieldManager=podpath&fieldValidation=Strict`, JSON.stringify(o));
      lines.push(`${rt.resource}${rt.group ? `.${rt.group}` : ''}/${o.metadata.name} created`);
    } catch (e) {
      if (!(e instanceof ApiError && e.status.code === 409)) throw e;
      lines.push(...(await applyAll(client, [o])));
    }
  }
  return lines;
}
