// Transactions through one libnftables context kept open (build/nftctx.node, src/native/nftctx.c)
// instead of a new `nft -f -` each time: one thread in the namespace, no process per transaction.
// nft still reads from the kernel what each transaction needs (a context's cache lasts only until
// the next commit); what kube-proxy writes keeps that small (./cachefree.ts). A refused
// transaction throws what `nft -f -` would have printed, word for word.
import { loadAddon } from '../util/addon.ts';
import os from 'node:os';
import { errorFromStderr, NftError } from './errors.ts';
import type { Family } from './types.ts';

/** The kernel's NFPROTO_ numbers. */
const nfproto: Record<Family, number> = { inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 };

interface NftctxAddon {
  open(netnsPath: string | null): object;
  run(ctx: object, text: string): { rc: number; stdout: string; stderr: string; source: string };
  remove(ctx: object, family: number, table: string, kinds: number[], names: string[]): { rc: number; failed: number };
  rules(ctx: object, family: number, table: string, chain: string): { rc: number; count: number };
  close(ctx: object): void;
}

/** The addon, or why there is none (a caller falls back to `nft -f -`). */
export function libnftables(): { addon: NftctxAddon } | { error: string } {
  return loadAddon<NftctxAddon>('nftctx');
}

export interface NftSessionOptions {
  /** the network namespace (under /run/netns) the context lives in; the process's when absent */
  netns?: string;
}

/** ENOENT for 2: the name of an errno the addon answered with. */
const errnoName = (n: number) => Object.entries(os.constants.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;

/** One open libnftables context. */
export class NftSession {
  private ctx: object | undefined;

  private constructor(
    private readonly addon: NftctxAddon,
    ctx: object,
  ) {
    this.ctx = ctx;
  }

  /** A context in o.netns, or why not (no addon: `error`; a context that would not open throws EEXEC). */
  static open(o: NftSessionOptions = {}): NftSession | { error: string } {
    const lib = libnftables();
    if ('error' in lib) return lib;
    try {
      return new NftSession(lib.addon, lib.addon.open(o.netns ? `/run/netns/${o.netns}` : null));
    } catch (e) {
      throw new NftError('EEXEC', `libnftables: ${(e as Error).message}`);
    }
  }

  /** Applies `nft -f` text atomically; throws NftError with what `nft -f -` would print. */
  run(text: string): void {
    if (!this.ctx) throw new NftError('EEXEC', 'libnftables: the context is closed');
    let r: ReturnType<NftctxAddon['run']>;
    try {
      r = this.addon.run(this.ctx, text);
    } catch (e) {
      throw new NftError('EEXEC', `libnftables: ${(e as Error).message}`);
    }
    if (r.rc === 0) return;
    throw errorFromStderr(asStdinErrors(r.stderr, r.source, text));
  }

  /**
   * Deletes chains and sets or maps of one table by name, all or none, in one batch of netlink
   * messages of the addon's own: nft would read every chain of every table first. Throws an
   * NftError with the errno's code (ENOENT, EBUSY: the text is the kernel's errno, not nft's words).
   */
  remove(family: Family, table: string, objs: { kind: 'chain' | 'set' | 'map'; name: string }[]): void {
    if (!this.ctx) throw new NftError('EEXEC', 'libnftables: the context is closed');
    if (!objs.length) return;
    const r = this.addon.remove(this.ctx, nfproto[family], table, objs.map((o) => (o.kind === 'chain' ? 0 : 1)), objs.map((o) => o.name));
    if (r.rc === 0) return;
    const name = errnoName(r.rc);
    const code = (['ENOENT', 'EEXIST', 'EBUSY', 'EOPNOTSUPP'] as const).find((c) => c === name) ?? 'EINVAL';
    const what = r.failed >= 0 ? `: delete ${objs[r.failed]!.kind} ${family} ${table} ${objs[r.failed]!.name}` : '';
    throw new NftError(code, `netlink: ${name}${what}`);
  }

  /** How many rules the chain has (0 when it or its table does not exist), from a netlink dump of that chain alone. */
  ruleCount(family: Family, table: string, chain: string): number {
    if (!this.ctx) throw new NftError('EEXEC', 'libnftables: the context is closed');
    const r = this.addon.rules(this.ctx, nfproto[family], table, chain);
    if (r.rc === 0) return r.count;
    throw new NftError('EEXEC', `netlink: ${errnoName(r.rc)}: list rules of chain ${family} ${table} ${chain}`);
  }

  close(): void {
    if (this.ctx) this.addon.close(this.ctx);
    this.ctx = undefined;
  }
}

/**
 * nft's error text for `text` read from the file `source`, as `nft -f -` prints it: locations
 * name /dev/stdin, and the quoted line is the whole line (nft reads a file's line into 1 KiB).
 */
export function asStdinErrors(stderr: string, source: string, text: string): string {
  const lines = text.split('\n');
  const out = stderr.split('\n');
  const prefix = `${source}:`;
  for (let i = 0; i < out.length; i++) {
    if (!out[i]!.startsWith(prefix)) continue;
    out[i] = `/dev/stdin:${out[i]!.slice(prefix.length)}`;
    const n = Number(/^\/dev\/stdin:(\d+):/.exec(out[i]!)?.[1]);
    const whole = lines[n - 1];
    const quoted = out[i + 1];
    if (whole !== undefined && quoted !== undefined && quoted !== '' && whole.startsWith(quoted)) out[i + 1] = whole;
  }
  return out.join('\n');
}
