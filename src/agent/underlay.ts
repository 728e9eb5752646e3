// The LoadBalancer speaker's hold on the node's underlay link: the addresses it adds, renews with
// their short lifetime and removes, and whether the link is up with a carrier. The speaker renews
// twice a second on every node, so this is done over rtnetlink from build/sockopt.node (the
// messages `ip addr replace|del` and `ip link show` send), in the agent's own namespace, with no
// process started; where the addon is not built, through `ip` run by the executor, as before.
// An `ip` process each half second cost the agent about 25 ms of its event loop every time (the
// fork of a Node process), about 5% of a CPU in every lab with a LoadBalancer IP.
import type { Executor } from '../exec/exec.ts';
import { loadAddon } from '../util/addon.ts';

export interface Underlay {
  /** What it goes through, for the agent's log. */
  readonly via: string;
  /** Renews each address (adding it back if it went), then reads the link: true when it is up with a carrier. */
  renew(ips: readonly string[]): Promise<boolean>;
  /** Holds `ip` on the link; the error in ip's words when it cannot. */
  claim(ip: string): Promise<string | undefined>;
  /** Lets go of `ip` (nothing if it is not held). */
  release(ip: string): Promise<void>;
}

/** Whether `ip -o link show` says the device is up with a carrier (UP and LOWER_UP). */
export function linkUp(ipLinkOutput: string, device: string): boolean {
  const line = ipLinkOutput.split('\n').find((l) => new RegExp(`^\\d+: ${device.replace(/[.]/g, '\\.')}[:@]`).test(l));
  const flags = /<([^>]*)>/.exec(line ?? '')?.[1]?.split(',') ?? [];
  return flags.includes('UP') && flags.includes('LOWER_UP');
}

/** `ip` run by the executor: one `ip -batch` per renewal (the link read first), one `ip addr` per claim or release. */
export function ipUnderlay(ex: Executor, device: string, lifetimeSeconds: number): Underlay {
  const lifetime = ['valid_lft', String(lifetimeSeconds), 'preferred_lft', String(lifetimeSeconds)];
  return {
    via: 'ip',
    async renew(ips) {
      const lines = [`link show dev ${device}`, ...ips.map((ip) => ['addr', 'replace', `${ip}/32`, 'dev', device, ...lifetime].join(' '))];
      const r = await ex.execAsync(['ip', '-o', '-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, allowFail: true, timeoutMs: 5000 });
      return linkUp(r.stdout, device);
    },
    async claim(ip) {
      const r = await ex.execAsync(['ip', 'addr', 'replace', `${ip}/32`, 'dev', device, ...lifetime], { allowFail: true, timeoutMs: 5000 });
      return r.status === 0 ? undefined : (r.error ?? r.stderr).trim();
    },
    async release(ip) {
      await ex.execAsync(['ip', 'addr', 'del', `${ip}/32`, 'dev', device], { allowFail: true, timeoutMs: 5000 });
    },
  };
}

/** build/sockopt.node's rtnetlink calls; nspath '' is the calling thread's own namespace. */
export interface RtnetlinkAddon {
  linkFlags(nspath: string, dev: string): number;
  /** lifetimeSeconds -1 deletes the address */
  addr(nspath: string, dev: string, ip: string, prefixLen: number, lifetimeSeconds: number): void;
}

const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;

/** rtnetlink through the addon, in the namespace at `nspath` ('' for the agent's own). */
export function netlinkUnderlay(addon: RtnetlinkAddon, device: string, lifetimeSeconds: number, nspath = ''): Underlay {
  const flags = () => {
    try {
      return addon.linkFlags(nspath, device);
    } catch {
      return 0;
    }
  };
  return {
    via: 'rtnetlink (build/sockopt.node)',
    async renew(ips) {
      for (const ip of ips) {
        try {
          addon.addr(nspath, device, ip, 32, lifetimeSeconds);
        } catch {
          // as `ip -force -batch`: the next address and the link are still done; the next tick tries again
        }
      }
      const f = flags();
      return (f & IFF_UP) !== 0 && (f & IFF_LOWER_UP) !== 0;
    },
    async claim(ip) {
      try {
        addon.addr(nspath, device, ip, 32, lifetimeSeconds);
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    },
    async release(ip) {
      try {
        addon.addr(nspath, device, ip, 32, -1);
      } catch {
        // not held: nothing to let go of
      }
    },
  };
}

/** The host's way: rtnetlink when build/sockopt.node loads, else `ip` through `ex`. */
export function hostUnderlay(ex: Executor, device: string, lifetimeSeconds: number): { underlay: Underlay; why?: string } {
  const r = loadAddon<RtnetlinkAddon>('sockopt');
  if ('error' in r) return { underlay: ipUnderlay(ex, device, lifetimeSeconds), why: r.error };
  return { underlay: netlinkUnderlay(r.addon, device, lifetimeSeconds) };
}
