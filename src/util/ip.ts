// IPv4/IPv6 parsing and CIDR arithmetic on BigInt addresses.
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** network address (host bits cleared) */
  base: bigint;
  prefix: number;
  bits: 32 | 128;
}

/** Parses an address as Go's net.ParseIP does, accepting IPv4 octets with leading zeros. */
export function parseIP(s: string): { family: Family; value: bigint } | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    const parts = s.split('.').map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { family: 4, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
  }
  if (isIPv6(s)) return { family: 6, value: ipv6ToBigInt(s) };
  return undefined;
}

export function isValidIP(s: string): boolean {
  return parseIP(s) !== undefined;
}

function ipv6ToBigInt(s: string): bigint {
  let text = s;
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 && isIPv4(v4[1]!)) {
    const p = v4[1]!.split('.').map(Number);
    tail = [(p[0]! << 8) | p[1]!, (p[2]! << 8) | p[3]!];
    text = text.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const fill = rest !== undefined ? 8 - h.length - r.length : 0;
  const groups = [...h, ...Array(fill).fill('0'), ...r].map((g) => parseInt(g || '0', 16));
  if (tail.length) groups.splice(6, 2, ...tail);
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

export function formatIP(value: bigint, family: Family): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((sh) => String((value >> sh) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // Compress the longest run of zero groups (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parses a CIDR as Go's net.ParseCIDR does: `ip/prefix`, host bits allowed (they are cleared). */
export function parseCIDR(s: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const ip = parseIP(m[1]!);
  if (!ip) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  const prefix = Number(m[2]);
  if (prefix > bits) return undefined;
  const mask = prefixMask(prefix, bits);
  return { family: ip.family, base: ip.value & mask, prefix, bits };
}

function prefixMask(prefix: number, bits: 32 | 128): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return prefix === 0 ? 0n : all ^ ((1n << BigInt(bits - prefix)) - 1n);
}

export function cidrContains(c: Cidr, ip: string): boolean {
  const p = parseIP(ip);
  if (!p || p.family !== c.family) return false;
  return (p.value & prefixMask(c.prefix, c.bits)) === c.base;
}

export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(c.bits - c.prefix);
}

export function cidrString(c: Cidr): string {
  return `${formatIP(c.base, c.family)}/${c.prefix}`;
}

/** The n-th address of a CIDR (0 = network address). */
export function cidrAddress(c: Cidr, n: bigint): string {
  return formatIP(c.base + n, c.family);
}

export function ipOffset(c: Cidr, ip: string): bigint | undefined {
  const p = parseIP(ip);
  if (!p || p.family !== c.family || !cidrContains(c, ip)) return undefined;
  return p.value - c.base;
}

export function familyOf(ip: string): Family | undefined {
  if (isIPv4Sloppy(ip)) return 4;
  return parseIP(ip)?.family;
}

const dottedQuad = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Whether s is an IPv4 address as parseIP reads them (leading zeros allowed), without BigInt work: hot in kube-proxy's model. */
export function isIPv4Sloppy(s: string): boolean {
  const m = dottedQuad.exec(s);
  return m !== null && +m[1]! <= 255 && +m[2]! <= 255 && +m[3]! <= 255 && +m[4]! <= 255;
}

export function isLoopback(ip: string): boolean {
  const p = parseIP(ip);
  if (!p) return false;
  return p.family === 4 ? p.value >> 24n === 127n : p.value === 1n;
}

export function isUnspecified(ip: string): boolean {
  return parseIP(ip)?.value === 0n;
}

export function isLinkLocalUnicast(ip: string): boolean {
  const p = parseIP(ip);
  if (!p) return false;
  return p.family === 4 ? p.value >> 16n === 0xa9fen : p.value >> 118n === 0x3fan;
}

export function isLinkLocalMulticast(ip: string): boolean {
  const p = parseIP(ip);
  if (!p) return false;
  return p.family === 4 ? p.value >> 8n === 0xe00000n : p.value >> 112n === 0xff02n;
}

export interface HostPort {
  host: string;
  port: number;
}

/** "ADDR:PORT", ":PORT" or "[V6]:PORT". */
export function parseHostPort(s: string, flag: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(s);
  const host = m ? (m[1] ?? m[2] ?? '') : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535) || (host !== '' && !familyOf(host))) throw Object.assign(new Error(`${flag} ${JSON.stringify(s)}: expected ADDRESS:PORT (e.g. 127.0.0.1:5353 or :53)`), { code: 'BadFlags' });
  return { host, port };
}
