// Transactions through one libnftables context kept open (build/nftctx.node, src/native/nftctx.c)
// instead of a new `nft -f -` each time. What it saves is nft's cache: before a transaction that
// adds rules or elements, nft reads every chain and set of the ruleset, which for kube-proxy's
// table at 10,000 Services (over 100,000 chains) is most of a second per process. nft 1.0.x keeps
// a context's cache only while the ruleset's generation id is unchanged and drops it after every
// commit, so the context refills it right after each of ours, with a dry run of `warmup` (a
// transaction needing the same cache), while the caller goes on; a ruleset changed by anyone else
// in between is noticed by nft itself (the generation id) and read again. A refused transaction
// throws what `nft -f -` would have printed, word for word.
import { loadAddon } from '../util/addon.ts';
import { errorFromStderr, NftError } from './errors.ts';

interface NftctxAddon {
  open(netnsPath: string | null, warmup: string | null): object;
  run(ctx: object, text: string): { rc: number; stdout: string; stderr: string; source: string };
  stats(ctx: object): { runs: number; refills: number };
  close(ctx: object): void;
}

/** The addon, or why there is none (a caller falls back to `nft -f -`). */
export function libnftables(): { addon: NftctxAddon } | { error: string } {
  return loadAddon<NftctxAddon>('nftctx');
}

export interface NftSessionOptions {
  /** the network namespace (under /run/netns) the context lives in; the process's when absent */
  netns?: string;
  /** nft text to dry-run after each successful commit, so the next transaction finds the cache filled */
  warmup?: string;
}

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
      return new NftSession(lib.addon, lib.addon.open(o.netns ? `/run/netns/${o.netns}` : null, o.warmup ?? null));
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

  /** Calls answered, and cache refills that succeeded. */
  stats(): { runs: number; refills: number } {
    return this.ctx ? this.addon.stats(this.ctx) : { runs: 0, refills: 0 };
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
