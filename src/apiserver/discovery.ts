// API discovery documents: the legacy APIVersions/APIGroupList/APIResourceList and the
// aggregated apidiscovery.k8s.io/v2 (and v2beta1) lists kubectl asks for first.
import { createHash } from 'node:crypto';
import { groupVersions, servedTypes, type ResourceType } from '../api/resources.ts';

export const serverVersion = {
  major: '1',
  minor: '33',
  gitVersion: 'v1.33.0+podpath',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-11-01T00:00:00Z',
  goVersion: 'go1.24.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

function storageVersionHash(r: ResourceType): string {
  // Every served version of a custom kind names the one it is stored at.
  return createHash('sha256').update(`${r.group}/${r.custom?.storageVersion ?? r.version}/${r.kind}`).digest('base64').slice(0, 11);
}

/** The served kinds: the built-in ones, then `extra` (those of CustomResourceDefinitions). */
type Extra = readonly ResourceType[];

function inGV(group: string, version: string, extra: Extra = []): ResourceType[] {
  return [...servedTypes, ...extra].filter((r) => r.group === group && r.version === version);
}

export function apiResourceList(group: string, version: string, extra: Extra = []): Record<string, unknown> {
  const resources: Record<string, unknown>[] = [];
  for (const r of inGV(group, version, extra)) {
    const main: Record<string, unknown> = { name: r.resource, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs };
    if (r.shortNames.length) main.shortNames = r.shortNames;
    if (r.categories.length) main.categories = r.categories;
    // Only what is stored has a storage version.
    if (!r.notStored) main.storageVersionHash = storageVersionHash(r);
    resources.push(main);
    for (const s of r.subresources) {
      const sub: Record<string, unknown> = { name: `${r.resource}/${s.name}`, singularName: '', namespaced: r.namespaced };
      if (s.group !== r.group || s.version !== r.version) {
        sub.group = s.group;
        sub.version = s.version;
      }
      sub.kind = s.kind;
      sub.verbs = s.verbs;
      resources.push(sub);
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function namedGroups(extra: Extra = []): { name: string; versions: { groupVersion: string; version: string }[] }[] {
  const byGroup = new Map<string, string[]>();
  for (const gv of groupVersions([...servedTypes, ...sortedByVersion(extra)])) {
    if (!gv.group) continue;
    byGroup.set(gv.group, [...(byGroup.get(gv.group) ?? []), gv.version]);
  }
  return [...byGroup].map(([name, versions]) => ({ name, versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })) }));
}

/** Custom kinds' versions in upstream's priority order (GA before beta before alpha, higher first). */
function sortedByVersion(extra: Extra): ResourceType[] {
  const firstSeen = new Map<string, number>();
  extra.forEach((r, i) => firstSeen.has(r.group) || firstSeen.set(r.group, i));
  return [...extra].sort((a, b) => firstSeen.get(a.group)! - firstSeen.get(b.group)! || compareKubeVersions(a.version, b.version));
}

/** version.CompareKubeAwareVersionStrings, as a sort order: v2 < v1 < v1beta2 < v1beta1 < v1alpha1 < other. */
export function compareKubeVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return { rank: 3, major: 0, minor: 0, v };
    return { rank: m[2] === 'alpha' ? 2 : m[2] === 'beta' ? 1 : 0, major: Number(m[1]), minor: Number(m[3] ?? 0), v };
  };
  const x = parse(a);
  const y = parse(b);
  if (x.rank !== y.rank) return x.rank - y.rank;
  if (x.rank === 3) return x.v < y.v ? -1 : x.v > y.v ? 1 : 0;
  return y.major - x.major || y.minor - x.minor;
}

export function apiGroupList(extra: Extra = []): Record<string, unknown> {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: namedGroups(extra).map((g) => ({ name: g.name, versions: g.versions, preferredVersion: g.versions[0] })),
  };
}

export function apiGroup(name: string, extra: Extra = []): Record<string, unknown> | undefined {
  const g = namedGroups(extra).find((x) => x.name === name);
  if (!g) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', name: g.name, versions: g.versions, preferredVersion: g.versions[0] };
}

function aggregatedResource(r: ResourceType): Record<string, unknown> {
  const out: Record<string, unknown> = {
    resource: r.resource,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: r.verbs,
  };
  if (r.shortNames.length) out.shortNames = r.shortNames;
  if (r.categories.length) out.categories = r.categories;
  if (r.subresources.length) {
    out.subresources = r.subresources.map((s) => ({ subresource: s.name, responseKind: { group: s.group, version: s.version, kind: s.kind }, verbs: s.verbs }));
  }
  return out;
}

/** The aggregated discovery document for /api (legacy) or /apis (named groups). */
export function aggregatedDiscovery(legacy: boolean, apiVersion: 'apidiscovery.k8s.io/v2' | 'apidiscovery.k8s.io/v2beta1', extra: Extra = []): Record<string, unknown> {
  const items: Record<string, unknown>[] = [];
  if (legacy) {
    items.push({ metadata: { name: '' }, versions: [{ version: 'v1', resources: inGV('', 'v1').map(aggregatedResource), freshness: 'Current' }] });
  } else {
    for (const g of namedGroups(extra)) {
      items.push({
        metadata: { name: g.name },
        versions: g.versions.map((v) => ({ version: v.version, resources: inGV(g.name, v.version, extra).map(aggregatedResource), freshness: 'Current' })),
      });
    }
  }
  return { kind: 'APIGroupDiscoveryList', apiVersion, metadata: {}, items };
}

/** Which aggregated discovery version an Accept header asks for, if any. */
export function wantsAggregated(accept: string): 'apidiscovery.k8s.io/v2' | 'apidiscovery.k8s.io/v2beta1' | undefined {
  for (const part of accept.split(',')) {
    const p = part.replace(/\s/g, '');
    if (!p.includes('as=APIGroupDiscoveryList') || !p.includes('g=apidiscovery.k8s.io')) continue;
    if (p.includes('v=v2beta1')) return 'apidiscovery.k8s.io/v2beta1';
    if (p.includes('v=v2')) return 'apidiscovery.k8s.io/v2';
  }
  return undefined;
}
