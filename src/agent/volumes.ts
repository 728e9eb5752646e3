// A pod's volumes, as the kubelet's volume manager sets them up before its containers start:
// configMap, secret, projected (service account token, configMap, secret, downwardAPI),
// downwardAPI and emptyDir volumes are written to a directory per pod and volume; hostPath is
// the host's own path; and, as the ServiceAccount admission plugin adds kube-api-access to every
// pod, each pod that does not opt out gets /var/run/secrets/kubernetes.io/serviceaccount (token,
// ca.crt, namespace). Each container mounts them at their mountPaths in its own mount namespace
// (rootfs.ts), read-only where the kubelet mounts them so.
import fs from 'node:fs';
import path from 'node:path';
import type { Container, KubeObject, Pod } from '../api/types.ts';
import { serviceAccountMountPath } from '../util/mounts.ts';
import type { Bind } from './rootfs.ts';

/** The token a volume asks for: a projected serviceAccountToken's audience and lifetime. */
export interface TokenWant {
  /** undefined: the API server's own audiences */
  audience?: string;
  expirationSeconds: number;
}

/** A pod's token as the kubelet's token manager holds it: to be asked for anew at `refreshAt` (ms). */
export interface PodToken {
  token: string;
  ca: string;
  refreshAt: number;
}

/**
 * What kube-api-access asks for (the ServiceAccount admission plugin's 3607 s, which the API
 * server extends for pod-bound tokens); a projected serviceAccountToken's lifetime defaults to an hour.
 */
export const apiAccessToken: TokenWant = { expirationSeconds: 3607 };
const defaultProjectedTokenSeconds = 3600;

/**
 * When the kubelet's token manager asks for a token anew: at 80% of the lifetime asked for, or
 * after 24 hours (its maxTTL), whichever comes first; `issuedAt` in ms.
 */
export function tokenRefreshAt(issuedAt: number, expirationSeconds: number): number {
  return issuedAt + Math.min(0.8 * expirationSeconds, 24 * 3600) * 1000;
}

/** What a volume's contents are read from: the API server's objects (undefined when missing). */
export interface VolumeSources {
  configMap(namespace: string, name: string): Promise<KubeObject | undefined>;
  secret(namespace: string, name: string): Promise<KubeObject | undefined>;
  /** a token of the pod's service account, bound to the pod (the kubelet's TokenRequest), and the API server's CA */
  serviceAccount(pod: Pod, want: TokenWant): Promise<PodToken>;
}

/** A file of a volume: its path inside the volume, content and mode. */
export interface VolumeFile {
  path: string;
  content: Buffer;
  mode: number;
}

/** Why a volume cannot be set up, in the kubelet's words (the FailedMount event's message). */
export class VolumeError extends Error {
  readonly code = 'FailedMount';
}

type KeyToPath = { key: string; path: string; mode?: number };
type Volume = Record<string, unknown> & { name: string };

/** The name the implicit service account volume has (upstream: kube-api-access-xxxxx). */
export const serviceAccountVolume = 'kube-api-access';

const defaultMode = 0o644;

/** The files of a configMap or secret's `data`, all keys or those `items` name (a missing key is an error unless optional). */
function keyFiles(kind: 'configmap' | 'secret', obj: KubeObject, items: KeyToPath[] | undefined, mode: number, optional: boolean): VolumeFile[] {
  const data = new Map<string, Buffer>();
  const text = (obj.data ?? {}) as Record<string, string>;
  const binary = (obj.binaryData ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(text)) data.set(k, kind === 'secret' ? Buffer.from(v, 'base64') : Buffer.from(v));
  for (const [k, v] of Object.entries(binary)) data.set(k, Buffer.from(v, 'base64'));
  if (!items?.length) return [...data].map(([k, v]) => ({ path: k, content: v, mode }));
  const out: VolumeFile[] = [];
  for (const it of items) {
    const v = data.get(it.key);
    if (v === undefined) {
      if (optional) continue;
      throw new VolumeError(`${kind} references non-existent ${kind === 'secret' ? 'secret' : 'config'} key: ${it.key}`);
    }
    out.push({ path: it.path, content: v, mode: it.mode ?? mode });
  }
  return out;
}

/** A downwardAPI item's value: the pod's fields (labels and annotations as key="value" lines). */
function fieldValue(pod: Pod, fieldPath: string): string {
  const kv = (m: Record<string, string> | undefined) =>
    Object.entries(m ?? {})
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join('\n');
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'metadata.labels':
      return kv(pod.metadata.labels);
    case 'metadata.annotations':
      return kv(pod.metadata.annotations);
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    default: {
      const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
      return m ? (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]!] ?? '' : '';
    }
  }
}

function downwardFiles(pod: Pod, items: { path: string; fieldRef?: { fieldPath?: string }; mode?: number }[] | undefined, mode: number): VolumeFile[] {
  return (items ?? []).filter((i) => i.fieldRef?.fieldPath).map((i) => ({ path: i.path, content: Buffer.from(fieldValue(pod, i.fieldRef!.fieldPath!)), mode: i.mode ?? mode }));
}

/** The service account volume's files: token, ca.crt, namespace. */
export function serviceAccountFiles(pod: Pod, creds: { token: string; ca: string }, tokenPath = 'token'): VolumeFile[] {
  return [
    { path: tokenPath, content: Buffer.from(creds.token), mode: 0o600 },
    { path: 'ca.crt', content: Buffer.from(creds.ca), mode: defaultMode },
    { path: 'namespace', content: Buffer.from(pod.metadata.namespace ?? 'default'), mode: defaultMode },
  ];
}

/** The earliest token refresh of what was written (Infinity: no token). */
type Refresh = { at: number };

/**
 * The files of one volume, or undefined for volumes that are not written (hostPath, emptyDir,
 * kinds podpath does not know). Reads the objects it names through `src`; `refresh.at` is
 * lowered to the refresh time of any token it holds.
 */
export async function volumeFiles(pod: Pod, v: Volume, src: VolumeSources, refresh: Refresh = { at: Infinity }): Promise<VolumeFile[] | undefined> {
  const ns = pod.metadata.namespace ?? 'default';
  const cm = v.configMap as { name?: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean } | undefined;
  if (cm) {
    const obj = await src.configMap(ns, cm.name ?? '');
    if (!obj) {
      if (cm.optional) return [];
      throw new VolumeError(`configmap "${cm.name}" not found`);
    }
    return keyFiles('configmap', obj, cm.items, cm.defaultMode ?? defaultMode, Boolean(cm.optional));
  }
  const sec = v.secret as { secretName?: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean } | undefined;
  if (sec) {
    const obj = await src.secret(ns, sec.secretName ?? '');
    if (!obj) {
      if (sec.optional) return [];
      throw new VolumeError(`secret "${sec.secretName}" not found`);
    }
    return keyFiles('secret', obj, sec.items, sec.defaultMode ?? defaultMode, Boolean(sec.optional));
  }
  const dapi = v.downwardAPI as { items?: { path: string; fieldRef?: { fieldPath?: string }; mode?: number }[]; defaultMode?: number } | undefined;
  if (dapi) return downwardFiles(pod, dapi.items, dapi.defaultMode ?? defaultMode);
  const proj = v.projected as { sources?: Record<string, any>[]; defaultMode?: number } | undefined;
  if (proj) {
    const mode = proj.defaultMode ?? defaultMode;
    const out: VolumeFile[] = [];
    for (const s of proj.sources ?? []) {
      if (s.serviceAccountToken) {
        const sat = s.serviceAccountToken as { audience?: string; expirationSeconds?: number; path?: string };
        const t = await fetchToken(pod, src, { ...(sat.audience ? { audience: sat.audience } : {}), expirationSeconds: sat.expirationSeconds ?? defaultProjectedTokenSeconds });
        refresh.at = Math.min(refresh.at, t.refreshAt);
        out.push({ path: sat.path ?? 'token', content: Buffer.from(t.token), mode: 0o600 });
      }
      else if (s.configMap) out.push(...((await volumeFiles(pod, { name: v.name, configMap: { ...s.configMap, defaultMode: mode } }, src)) ?? []));
      else if (s.secret) out.push(...((await volumeFiles(pod, { name: v.name, secret: { secretName: s.secret.name, items: s.secret.items, optional: s.secret.optional, defaultMode: mode } }, src)) ?? []));
      else if (s.downwardAPI) out.push(...downwardFiles(pod, s.downwardAPI.items, mode));
    }
    return out;
  }
  return undefined;
}

/** Whether the pod gets the service account volume (automountServiceAccountToken not false). */
export function mountsServiceAccount(pod: Pod): boolean {
  return pod.spec.automountServiceAccountToken !== false;
}

/** Volumes the kubelet always mounts read-only (their contents are the API's, rewritten atomically). */
const readOnlyKinds = ['configMap', 'secret', 'projected', 'downwardAPI'];

/**
 * A container's mounts: each volumeMount's directory (or file, with subPath) on the host at its
 * mountPath, and the service account's where the container does not mount something there.
 */
export function containerMounts(pod: Pod, c: Container, volumeDir: (volume: string) => string): Bind[] {
  const vols = new Map(((pod.spec.volumes ?? []) as Volume[]).map((v) => [v.name, v]));
  const binds: Bind[] = [];
  for (const m of (c.volumeMounts ?? []) as { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[]) {
    const v = vols.get(m.name);
    if (!v) continue;
    const hp = v.hostPath as { path?: string } | undefined;
    const base = hp?.path ?? volumeDir(m.name);
    binds.push({ source: m.subPath ? path.join(base, m.subPath) : base, target: m.mountPath, readOnly: Boolean(m.readOnly) || readOnlyKinds.some((k) => k in v) });
  }
  if (mountsServiceAccount(pod) && !binds.some((b) => b.target === serviceAccountMountPath)) binds.push({ source: volumeDir(serviceAccountVolume), target: serviceAccountMountPath, readOnly: true });
  return binds;
}

/**
 * Writes a volume's files into `dir`, each with its mode, and removes what it held before that
 * is not among them. The directory itself stays (containers bind-mount it), and each file is
 * replaced by a rename, so a reader sees the old content or the new, never a part.
 */
export function writeVolume(dir: string, files: VolumeFile[]): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const keep = new Set<string>();
  for (const f of files) {
    const file = path.join(dir, f.path);
    if (!file.startsWith(dir + path.sep)) throw new VolumeError(`invalid path ${JSON.stringify(f.path)}: must not contain '..'`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = path.join(path.dirname(file), `..${path.basename(file)}.tmp`);
    fs.writeFileSync(tmp, f.content, { mode: f.mode });
    fs.chmodSync(tmp, f.mode);
    fs.renameSync(tmp, file);
    for (let p = file; p !== dir; p = path.dirname(p)) keep.add(p);
  }
  const prune = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (keep.has(p)) {
        if (e.isDirectory()) prune(p);
      } else fs.rmSync(p, { recursive: true, force: true });
    }
  };
  prune(dir);
}

/**
 * Sets up every volume of a pod under `podDir` (one directory per volume); throws VolumeError
 * naming the volume that failed. Returns when the tokens written are to be asked for anew
 * (Infinity: none); with `tokensOnly`, only the volumes that hold a token are written again.
 */
export async function setUpVolumes(pod: Pod, podDir: string, src: VolumeSources, o: { tokensOnly?: boolean } = {}): Promise<number> {
  fs.mkdirSync(podDir, { recursive: true, mode: 0o700 });
  const refresh: Refresh = { at: Infinity };
  for (const v of (pod.spec.volumes ?? []) as Volume[]) {
    if (o.tokensOnly && !((v.projected as { sources?: Record<string, unknown>[] } | undefined)?.sources ?? []).some((s) => s.serviceAccountToken)) continue;
    try {
      const hp = v.hostPath as { path?: string; type?: string } | undefined;
      if (hp?.path) {
        if (hp.type === 'DirectoryOrCreate') fs.mkdirSync(hp.path, { recursive: true });
        else if (hp.type === 'FileOrCreate' && !fs.existsSync(hp.path)) fs.writeFileSync(hp.path, '');
        continue;
      }
      const files = await volumeFiles(pod, v, src, refresh);
      if (files) writeVolume(path.join(podDir, v.name), files);
      else fs.mkdirSync(path.join(podDir, v.name), { recursive: true });
    } catch (e) {
      throw new VolumeError(`MountVolume.SetUp failed for volume "${v.name}" : ${(e as Error).message}`);
    }
  }
  if (mountsServiceAccount(pod)) {
    let creds: PodToken;
    try {
      creds = await fetchToken(pod, src, apiAccessToken);
    } catch (e) {
      throw new VolumeError(`MountVolume.SetUp failed for volume "${serviceAccountVolume}" : ${(e as Error).message}`);
    }
    refresh.at = Math.min(refresh.at, creds.refreshAt);
    writeVolume(path.join(podDir, serviceAccountVolume), serviceAccountFiles(pod, creds));
  }
  return refresh.at;
}

/** The pod's token, in the kubelet's words when the API server refuses it. */
async function fetchToken(pod: Pod, src: VolumeSources, want: TokenWant): Promise<PodToken> {
  try {
    return await src.serviceAccount(pod, want);
  } catch (e) {
    throw new Error(`failed to fetch token: ${(e as Error).message}`);
  }
}
