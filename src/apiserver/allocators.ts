// ClusterIP and NodePort allocators. As upstream's, each range is split into a lower band
// for static (user-chosen) values and an upper band that dynamic allocation prefers, so that
// well-known addresses such as 10.96.0.10 stay free for those who ask for them.
import { cidrAddress, cidrSize, cidrString, ipOffset, parseCIDR, type Cidr } from '../util/ip.ts';

export class AllocationError extends Error {}

export const errAllocated = 'provided IP is already allocated';

function staticBand(size: number, divisor: number, max: number): number {
  // A range smaller than the band is all static band: dynamic allocation then scans all of it.
  return Math.min(Math.max(16, Math.floor(size / divisor)), max, size);
}

/** Picks a free offset in [lo, hi), scanning from a random start; -1 when full. */
function randomFree(lo: number, hi: number, used: (n: number) => boolean): number {
  const n = hi - lo;
  if (n <= 0) return -1;
  const start = Math.floor(Math.random() * n);
  for (let i = 0; i < n; i++) {
    const cand = lo + ((start + i) % n);
    if (!used(cand)) return cand;
  }
  return -1;
}

export class ClusterIPAllocator {
  readonly cidr: Cidr;
  private readonly size: number;
  private readonly used = new Set<number>();

  constructor(cidrText: string) {
    const c = parseCIDR(cidrText);
    if (!c) throw new Error(`invalid service CIDR ${cidrText}`);
    this.cidr = c;
    const total = Number(cidrSize(c) > 1n << 24n ? 1n << 24n : cidrSize(c));
    // The network address and, for IPv4, the broadcast address are never handed out.
    this.size = c.family === 4 ? total - 2 : total - 1;
    if (this.size <= 0) throw new Error(`service CIDR ${cidrText} is too small`);
  }

  get rangeString(): string {
    return cidrString(this.cidr);
  }

  /** The first usable address (the `kubernetes` Service's). */
  first(): string {
    return cidrAddress(this.cidr, 1n);
  }

  private offsetOf(ip: string): number | undefined {
    const off = ipOffset(this.cidr, ip);
    if (off === undefined || off < 1n || off > BigInt(this.size)) return undefined;
    return Number(off) - 1;
  }

  has(ip: string): boolean {
    const o = this.offsetOf(ip);
    return o !== undefined && this.used.has(o);
  }

  inRange(ip: string): boolean {
    return this.offsetOf(ip) !== undefined;
  }

  allocate(ip: string): void {
    const o = this.offsetOf(ip);
    if (o === undefined) {
      throw new AllocationError(`the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${this.rangeString}`);
    }
    if (this.used.has(o)) throw new AllocationError(errAllocated);
    this.used.add(o);
  }

  allocateNext(): string {
    const band = staticBand(this.size, 16, 256);
    let o = randomFree(band, this.size, (n) => this.used.has(n));
    if (o < 0) o = randomFree(0, band, (n) => this.used.has(n));
    if (o < 0) throw new AllocationError('range is full');
    this.used.add(o);
    return cidrAddress(this.cidr, BigInt(o + 1));
  }

  release(ip: string): void {
    const o = this.offsetOf(ip);
    if (o !== undefined) this.used.delete(o);
  }

  get allocatedCount(): number {
    return this.used.size;
  }
}

export class PortAllocator {
  private readonly used = new Set<number>();
  constructor(
    readonly base: number,
    readonly size: number,
  ) {}

  static parse(range: string): PortAllocator {
    const m = /^(\d+)-(\d+)$/.exec(range.trim());
    if (!m) throw new Error(`invalid port range ${range} (expected e.g. 30000-32767)`);
    const lo = Number(m[1]);
    const hi = Number(m[2]);
    if (lo < 1 || hi > 65535 || hi < lo) throw new Error(`invalid port range ${range}`);
    return new PortAllocator(lo, hi - lo + 1);
  }

  get rangeString(): string {
    return `${this.base}-${this.base + this.size - 1}`;
  }

  has(port: number): boolean {
    return this.used.has(port);
  }

  allocate(port: number): void {
    if (port < this.base || port >= this.base + this.size) {
      throw new AllocationError(`provided port is not in the valid range. The range of valid ports is ${this.rangeString}`);
    }
    if (this.used.has(port)) throw new AllocationError('provided port is already allocated');
    this.used.add(port);
  }

  allocateNext(): number {
    const band = staticBand(this.size, 32, 128);
    let o = randomFree(band, this.size, (n) => this.used.has(this.base + n));
    if (o < 0) o = randomFree(0, band, (n) => this.used.has(this.base + n));
    if (o < 0) throw new AllocationError('range is full');
    this.used.add(this.base + o);
    return this.base + o;
  }

  release(port: number): void {
    this.used.delete(port);
  }
}
