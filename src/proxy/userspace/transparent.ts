// Client addresses through the userspace proxy. For external traffic with
// externalTrafficPolicy: Local the endpoints are on this node, so the proxy may connect to them
// with the client's own address and port (a socket with IP_TRANSPARENT, from build/sockopt.node,
// the one piece Node cannot do itself). The endpoint's reply is routed to the node (its gateway),
// where it must be handed to that socket instead of forwarded: a mark on packets that belong to a
// transparent socket (nft `socket transparent`) and a policy route for marked packets to the local
// stack do that, as for TPROXY.
import { commandExists, defaultExecutor, run, type Executor } from '../../exec/exec.ts';
import { loadAddon } from '../../util/addon.ts';
import { Nftables, type Chain, type Transaction } from '../../knftables/index.ts';

/** The fwmark bit on replies to transparent sockets (kube-proxy's own marks are 0x4000 and 0x8000). */
export const transparentMark = 0x20000;
/** The routing table that delivers marked packets locally. */
export const transparentRouteTable = 1037;
export const transparentTable = 'podpath-userspace';

/** The nft table that marks packets owned by a transparent socket (pure; applied whole, replacing what was there). */
export function transparentNftables(tx: Transaction): Transaction {
  const chain: Chain = { kind: 'chain', name: 'prerouting', type: 'filter', hook: 'prerouting', priority: 'mangle', policy: 'accept' };
  return tx
    .add({ kind: 'table' })
    .flush({ kind: 'table' })
    .add(chain)
    .add({
      kind: 'rule',
      chain: chain.name,
      rule: `socket transparent 1 meta mark set meta mark | 0x${transparentMark.toString(16)}`,
      comment: "reply to a connection the userspace proxy opened with the client's address",
    });
}

/** What keeping client addresses needs from the machine (a fake stands in for it in unit tests). */
export interface TransparentShell {
  /** why client addresses cannot be kept here, with how to fix it; undefined when they can */
  missing(): string | undefined;
  /** the mark rule and the policy route, idempotently */
  ensureRouting(): void;
  /** a non-blocking socket with IP_TRANSPARENT bound to ip:port (TCP: another port if that one is taken), as an fd */
  open(udp: boolean, ip: string, port: number): number;
}

interface SockoptAddon {
  transparentSocket(udp: boolean, ip: string, port: number): number;
}

let addonError: string | undefined;

/** build/sockopt.node of this checkout (scripts/build.js compiles it); addonError says why not. */
function loadSockopt(): SockoptAddon | undefined {
  const r = loadAddon<SockoptAddon>('sockopt');
  if ('error' in r) addonError = r.error;
  return 'addon' in r ? r.addon : undefined;
}

/** The machine's: the addon for the sockets, `nft` and `ip` (run through `ex`) for the mark and route. */
export function realTransparent(ex: Executor = defaultExecutor): TransparentShell {
  return {
    missing() {
      if (!loadSockopt()) return addonError;
      if (!commandExists('nft', ex)) return 'nft is missing (apt-get install -y nftables)';
      return undefined;
    },
    ensureRouting() {
      const nft = new Nftables({ family: 'ip', table: transparentTable, executor: ex });
      nft.run(transparentNftables(nft.newTransaction()));
      const mark = `0x${transparentMark.toString(16)}/0x${transparentMark.toString(16)}`;
      if (!run(['ip', 'rule', 'show', 'fwmark', mark], {}, ex).trim()) run(['ip', 'rule', 'add', 'fwmark', mark, 'lookup', String(transparentRouteTable)], {}, ex);
      run(['ip', 'route', 'replace', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', String(transparentRouteTable)], {}, ex);
    },
    open: (udp, ip, port) => loadSockopt()!.transparentSocket(udp, ip, port),
  };
}

/** The fake: says what `missing` says, counts the routing set up, and has no sockets to give (open throws). */
export class FakeTransparent implements TransparentShell {
  routingSetUps = 0;
  readonly asked: string[] = [];

  constructor(private readonly why?: string) {}

  missing(): string | undefined {
    return this.why;
  }

  ensureRouting(): void {
    this.routingSetUps++;
  }

  open(udp: boolean, ip: string, port: number): number {
    this.asked.push(`${udp ? 'udp' : 'tcp'} ${ip}:${port}`);
    throw new Error('EPERM (fake: no transparent sockets)');
  }
}
