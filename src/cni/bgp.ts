// The node's BGP daemon, as Calico's calico-node runs BIRD: one per node (in a lab, a pod of the
// DaemonSet kube-system/calico-node on the node's own network), it renders bird.conf from the
// Nodes (bird.ts), starts a real BIRD in the node's namespace with its configuration and control
// socket in its own directory, and on every Node change that alters the configuration rewrites
// it and has BIRD reload it (`birdc configure`): sessions to nodes that joined come up, those to
// nodes that left go away and their routes are withdrawn, with no restart. With --ip-masq pod
// traffic leaving the pod network is masqueraded (Calico's natOutgoing).
import fs from 'node:fs';
import path from 'node:path';
import type { Node } from '../api/types.ts';
import { Client, loadConfig } from '../client/client.ts';
import { Informer } from '../client/informer.ts';
import { startChild, type Child } from '../exec/child.ts';
import { defaultExecutor, run, type Executor } from '../exec/exec.ts';
import { Iptables, type IptablesInterface } from '../iptables/index.ts';
import { bgpNode, peersOf, renderBirdConf, type BgpNode, type BirdConfOptions } from './bird.ts';
import { ensureMasquerade } from './network.ts';

/** Where BIRD's files of one node live: `<dir>/bird.conf`, `<dir>/bird.ctl` (the control socket birdc talks to). */
export function birdFiles(dir: string): { conf: string; socket: string; pid: string } {
  return { conf: path.join(dir, 'bird.conf'), socket: path.join(dir, 'bird.ctl'), pid: path.join(dir, 'bird.pid') };
}

/** The BIRD process as the daemon drives it; RealBird runs the real one, tests give a fake. */
export interface BirdProcess {
  /** starts BIRD with the configuration file in place; resolves once it runs */
  start(): Promise<void>;
  /** `birdc configure`: BIRD rereads the file; what it answered */
  configure(): string;
  /** settles when BIRD exits on its own */
  readonly exited: Promise<string>;
  stop(): Promise<void>;
}

export class RealBird implements BirdProcess {
  private child: Child | undefined;
  private stopping = false;
  private resolveExit!: (why: string) => void;
  readonly exited = new Promise<string>((r) => (this.resolveExit = r));

  constructor(
    private readonly dir: string,
    private readonly ex: Executor = defaultExecutor,
  ) {}

  async start(): Promise<void> {
    const f = birdFiles(this.dir);
    fs.rmSync(f.socket, { force: true });
    this.child = await startChild(['bird', '-f', '-c', f.conf, '-s', f.socket, '-P', f.pid]);
    void this.child.exited.then((x) => {
      if (!this.stopping) this.resolveExit(`bird exited (${x.signal ?? `code ${x.code}`})`);
    });
    // BIRD answers on its socket once it has read its configuration.
    for (let i = 0; i < 100 && !fs.existsSync(f.socket); i++) await new Promise((r) => setTimeout(r, 50));
  }

  configure(): string {
    return run(['birdc', '-s', birdFiles(this.dir).socket, 'configure'], {}, this.ex).trim();
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    this.stopping = true;
    // SIGTERM: BIRD closes its sessions (the peers withdraw at once) and removes its kernel routes.
    this.child.signal('SIGTERM');
    await Promise.race([this.child.exited, new Promise((r) => setTimeout(r, 3000))]);
    this.child.signal('SIGKILL');
  }
}

export interface BgpDaemonOptions {
  nodeName: string;
  /** BIRD's directory for this node (configuration, control socket, pid file) */
  dir: string;
  /** the pod network (what --ip-masq does not masquerade) */
  clusterCIDR: string;
  bird: BirdConfOptions;
  ipMasq: boolean;
  log: (s: string) => void;
}

/** Keeps BIRD's configuration in line with the Nodes. */
export class BgpDaemon {
  private started = false;
  private applied = '';
  private peersLogged = '';

  constructor(
    private readonly o: BgpDaemonOptions,
    private readonly bird: BirdProcess,
    private readonly iptables: IptablesInterface | undefined,
  ) {}

  /** The configuration for these Nodes, or undefined while this node has no address or pod CIDR. */
  desired(nodes: Node[]): { text: string; self: BgpNode; all: BgpNode[] } | undefined {
    const all = nodes.map(bgpNode).filter((n): n is BgpNode => n !== undefined);
    const self = all.find((n) => n.name === this.o.nodeName);
    if (!self?.podCIDR) return undefined;
    return { text: renderBirdConf(self, all, this.o.bird), self, all };
  }

  /** Brings BIRD in line with the Nodes: the first time starts it, later changes reload it. */
  async sync(nodes: Node[]): Promise<void> {
    const want = this.desired(nodes);
    if (!want || want.text === this.applied) return;
    fs.mkdirSync(this.o.dir, { recursive: true });
    const conf = birdFiles(this.o.dir).conf;
    fs.writeFileSync(`${conf}.tmp`, want.text);
    fs.renameSync(`${conf}.tmp`, conf);
    const peers = peersOf(want.self, want.all, this.o.bird.routeReflector).map((p) => `${p.node.name} (${p.node.ip}, ${p.kind})`).join(', ') || 'none';
    if (!this.started) {
      this.o.log(`Using ${want.self.ip} as the BGP router ID; originating ${want.self.podCIDR}; AS ${this.o.bird.asNumber}, ${this.o.bird.routeReflector ? 'route reflector' : 'node-to-node mesh'}`);
      if (this.o.ipMasq && this.iptables) {
        ensureMasquerade(this.iptables, this.o.clusterCIDR);
        this.o.log(`Setting up masquerade for traffic from ${this.o.clusterCIDR} leaving it`);
      }
      await this.bird.start();
      this.started = true;
      this.o.log(`Started BIRD (config ${conf}); peers: ${peers}`);
    } else {
      const answer = this.bird.configure();
      this.o.log(`Reconfigured BIRD: ${answer.split('\n').pop()}; peers: ${peers}`);
    }
    this.applied = want.text;
    this.peersLogged = peers;
  }

  /** Re-checks what may be flushed under the daemon (the masquerade rule). */
  resync(): void {
    if (this.started && this.o.ipMasq && this.iptables) ensureMasquerade(this.iptables, this.o.clusterCIDR);
  }

  get peers(): string {
    return this.peersLogged;
  }
}

export interface RunningBgpDaemon {
  /** settles when BIRD exits on its own (the daemon then stops, so its pod restarts) */
  readonly failed: Promise<string>;
  stop(): Promise<void>;
}

export async function runBgpDaemon(o: BgpDaemonOptions & { kubeconfig?: string; resyncMs?: number }): Promise<RunningBgpDaemon> {
  const client = new Client(loadConfig(o.kubeconfig, `calico-node/podpath (${o.nodeName})`));
  const nodes = new Informer<Node>(client, 'v1', 'nodes');
  const bird = new RealBird(o.dir);
  const d = new BgpDaemon(o, bird, new Iptables({ executor: defaultExecutor }));
  // Node events come in bursts (status heartbeats): one sync at a time, the last state wins.
  let busy = false;
  let again = false;
  const sync = async (): Promise<void> => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        await d.sync(nodes.list()).catch((e: Error) => o.log(`configuring BIRD: ${e.message}`));
      } while (again);
    } finally {
      busy = false;
    }
  };
  nodes.onError = (e) => o.log(`nodes informer: ${e.message}`);
  nodes.on({ add: () => void sync(), update: () => void sync(), delete: () => void sync() });
  nodes.start();
  await nodes.waitForSync();
  o.log(`Node informer synced; ${nodes.list().length} nodes`);
  await sync();
  const timer = setInterval(() => d.resync(), o.resyncMs ?? 30_000);
  return {
    failed: bird.exited,
    stop: async () => {
      clearInterval(timer);
      nodes.stop();
      client.close();
      await bird.stop();
    },
  };
}
