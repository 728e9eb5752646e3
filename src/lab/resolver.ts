// The lab's upstream resolver, at 192.168.49.1 on the underlay (the lab's stand-in for the DNS
// server a node's resolv.conf names). The lab has no way out, so it knows only the lab's own
// hosts (zone `lab`: client.lab, router.lab, the nodes) and answers REFUSED for every other
// name, at once — the cluster DNS forwards there as CoreDNS forwards to a node's resolver.
import dgram from 'node:dgram';
import { decodeQuery, encodeResponse, Rcode, Type, type Question, type Response } from '../dns/wire.ts';

export const labZone = 'lab';

/** The answer to one question from the lab's hosts (name → IPv4). */
export function labAnswer(q: Question, hosts: Map<string, string>): Pick<Response, 'rcode' | 'aa' | 'answer' | 'authority'> {
  const name = q.name.toLowerCase();
  if (name !== labZone && !name.endsWith(`.${labZone}`)) return { rcode: Rcode.REFUSED, aa: false, answer: [], authority: [] };
  const soa = { name: labZone, type: Type.SOA, ttl: 60, data: { mname: `router.${labZone}`, rname: `hostmaster.${labZone}`, serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: 60 } } as const;
  const ip = hosts.get(name);
  if (ip === undefined) return { rcode: name === labZone ? Rcode.NOERROR : Rcode.NXDOMAIN, aa: true, answer: [], authority: [soa] };
  if (q.type !== Type.A) return { rcode: Rcode.NOERROR, aa: true, answer: [], authority: [soa] };
  return { rcode: Rcode.NOERROR, aa: true, answer: [{ name: q.name, type: Type.A, ttl: 60, data: ip }], authority: [] };
}

export function startLabResolver(host: string, port: number, hosts: Map<string, string>, log: (s: string) => void): dgram.Socket {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, r) => {
    const q = decodeQuery(msg);
    if ('code' in q) return;
    const out = encodeResponse({ id: q.id, rd: q.rd, ra: true, question: q.question, additional: [], ...labAnswer(q.question, hosts), ...(q.edns ? { edns: { udpSize: 1232, version: 0, do: false } } : {}) }, q.edns ? 1232 : 512);
    s.send(out, r.port, r.address);
  });
  s.on('error', (e) => log(`resolver: ${e.message}`));
  s.bind(port, host, () => log(`lab resolver on ${host}:${port}: ${[...hosts].map(([n, ip]) => `${n} ${ip}`).join(', ')}; other names REFUSED`));
  return s;
}
