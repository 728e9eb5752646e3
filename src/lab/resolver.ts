// The lab's upstream resolver, at 192.168.49.1 on the underlay (the lab's stand-in for the DNS
// server a node's resolv.conf names, and for the public DNS the user's computer asks). It knows
// the lab's own hosts (zone `lab`: client.lab, router.lab, the nodes) and, given a kubeconfig,
// the names the cluster publishes as external-dns would (Ingress hosts and LoadBalancer
// Services' hostname annotations → their LoadBalancer IPs, see src/dns/publicdns.ts). The lab has no
// way out, so every other name is REFUSED, at once — the cluster DNS forwards there as CoreDNS
// forwards to a node's resolver.
import dgram from 'node:dgram';
import type { Ingress, KubeObject, Service } from '../api/types.ts';
import { Client, loadConfig } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { decodeQuery, encodeResponse, Rcode, Type, type Question, type Response } from '../dns/wire.ts';
import { describePublicNames, lookupPublic, noPublicNames, publicNames, type GatewayForDNS, type PublicNames, type RouteForDNS } from '../dns/publicdns.ts';

export const labZone = 'lab';
const ttl = 60;

/**
 * The answer to one question from the lab's hosts (name → IPv4) and the names the cluster
 * publishes: an A record for a known name, NODATA for another type of a known name, NXDOMAIN
 * for an unknown name in zone `lab`, REFUSED for any other unknown name.
 */
export function labAnswer(q: Question, hosts: Map<string, string>, published: PublicNames = noPublicNames()): Pick<Response, 'rcode' | 'aa' | 'answer' | 'authority'> {
  const name = q.name.toLowerCase();
  if (name !== labZone && !name.endsWith(`.${labZone}`)) {
    const ips = lookupPublic(published, name);
    if (!ips) return { rcode: Rcode.REFUSED, aa: false, answer: [], authority: [] };
    if (q.type !== Type.A) return { rcode: Rcode.NOERROR, aa: true, answer: [], authority: [] };
    return { rcode: Rcode.NOERROR, aa: true, answer: ips.map((ip) => ({ name: q.name, type: Type.A, ttl, data: ip })), authority: [] };
  }
  const soa = { name: labZone, type: Type.SOA, ttl, data: { mname: `router.${labZone}`, rname: `hostmaster.${labZone}`, serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: ttl } } as const;
  const ip = hosts.get(name);
  if (ip === undefined) return { rcode: name === labZone ? Rcode.NOERROR : Rcode.NXDOMAIN, aa: true, answer: [], authority: [soa] };
  if (q.type !== Type.A) return { rcode: Rcode.NOERROR, aa: true, answer: [], authority: [soa] };
  return { rcode: Rcode.NOERROR, aa: true, answer: [{ name: q.name, type: Type.A, ttl, data: ip }], authority: [] };
}

/** Answers UDP queries on host:port; `published()` gives the cluster's names at the time of each query. */
export function startLabResolver(host: string, port: number, hosts: Map<string, string>, log: (s: string) => void, published: () => PublicNames = noPublicNames): dgram.Socket {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, r) => {
    const q = decodeQuery(msg);
    if ('code' in q) return;
    const out = encodeResponse({ id: q.id, rd: q.rd, ra: true, question: q.question, additional: [], ...labAnswer(q.question, hosts, published()), ...(q.edns ? { edns: { udpSize: 1232, version: 0, do: false } } : {}) }, q.edns ? 1232 : 512);
    s.send(out, r.port, r.address);
  });
  s.on('error', (e) => log(`resolver: ${e.message}`));
  s.bind(port, host, () => log(`lab resolver on ${host}:${port}: ${[...hosts].map(([n, ip]) => `${n} ${ip}`).join(', ')}; other names REFUSED`));
  return s;
}

/**
 * Watches the cluster's Ingresses and Services through `kubeconfig` and keeps the names they
 * publish; `current()` is the latest, and each change is logged.
 */
export function watchPublicNames(kubeconfig: string, log: (s: string) => void): { current: () => PublicNames; stop: () => void } {
  const client = new Client(loadConfig(kubeconfig, 'lab-resolver/podpath'));
  const ingresses = new Informer<Ingress>(client, 'networking.k8s.io/v1', 'ingresses');
  const services = new Informer<Service>(client, 'v1', 'services');
  // the Gateway API's (CRDs: served once the lab installs them; never with --no-gateway)
  const gateways = new Informer<GatewayForDNS & KubeObject>(client, 'gateway.networking.k8s.io/v1', 'gateways');
  const routes = new Informer<RouteForDNS & KubeObject>(client, 'gateway.networking.k8s.io/v1', 'httproutes');
  let names = noPublicNames();
  let shown: string | undefined;
  let pending = false;
  const recompute = () => {
    pending = false;
    // Both lists first: a name is not published with only half of the cluster known.
    if (!ingresses.hasSynced || !services.hasSynced) return;
    names = publicNames(ingresses.list(), services.list(), { routes: routes.hasSynced ? routes.list() : [], gateways: gateways.hasSynced ? gateways.list() : [] });
    const lines = describePublicNames(names).join('; ');
    if (lines !== shown) log(`public names: ${lines || 'none'}`);
    shown = lines;
  };
  const changed = () => {
    if (pending) return;
    pending = true;
    setImmediate(recompute);
  };
  for (const i of [ingresses, services, gateways, routes] as Informer[]) {
    let failing = false;
    i.onError = (e) => {
      // The API server may still be starting: say so once, not every second.
      if (!failing) log(`informer ${i.resource}: ${e.message} (retrying)`);
      failing = true;
    };
    i.on({ add: changed, update: changed, delete: changed });
    i.start();
    void i.waitForSync().then(() => {
      if (failing) log(`informer ${i.resource}: synced`);
      failing = false;
      changed();
    });
  }
  return {
    current: () => names,
    stop: () => {
      for (const i of [ingresses, services, gateways, routes]) i.stop();
      client.close();
    },
  };
}
