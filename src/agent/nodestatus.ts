// The kubelet's node status: registering the Node (labels, addresses, capacity, node info) and
// heartbeats that keep its conditions fresh. Conditions keep their lastTransitionTime while their
// status stays. (podpath's agent heartbeats through the Node's status; it keeps no Lease.)
import fs from 'node:fs';
import os from 'node:os';
import type { Node } from '../api/types.ts';
import type { Client } from '../client/client.ts';
import { objectPath } from '../client/client.ts';
import { apiTime, type Clock } from './clock.ts';

/** Where the node agent serves /containerLogs (the kubelet's port), advertised in the Node's status. */
export const kubeletPort = 10250;

export type NodeCondition = NonNullable<NonNullable<Node['status']>['conditions']>[number];

export interface NodeStatusOptions {
  nodeName: string;
  nodeIP: string;
  controlPlane?: boolean;
  log: (s: string) => void;
}

/** The facts about the machine a Node reports. */
export interface MachineInfo {
  osImage: string;
  kernelVersion: string;
  cpus: number;
  memoryKi: number;
}

export function readMachineInfo(): MachineInfo {
  let osImage = 'Linux';
  try {
    osImage = /PRETTY_NAME="?([^"\n]*)"?/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? osImage;
  } catch {
    // keep the default
  }
  return { osImage, kernelVersion: os.release(), cpus: os.cpus().length, memoryKi: Math.floor(os.totalmem() / 1024) };
}

/** A healthy node's conditions, with the kubelet's reasons and messages. */
export function nodeConditions(now: string): NodeCondition[] {
  const c = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason, message });
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
  ];
}

/** Fresh conditions, each keeping the old lastTransitionTime when its status did not change. */
export function mergeConditions<T extends { type: string; status: string; lastTransitionTime?: string }>(old: T[] | undefined, fresh: T[]): T[] {
  return fresh.map((c) => {
    const o = old?.find((x) => x.type === c.type);
    return o && o.status === c.status && o.lastTransitionTime ? { ...c, lastTransitionTime: o.lastTransitionTime } : c;
  });
}

/** The Node as this agent registers it. */
export function nodeObject(o: Pick<NodeStatusOptions, 'nodeName' | 'nodeIP' | 'controlPlane'>, m: MachineInfo, now: string): Node {
  const labels: Record<string, string> = {
    'kubernetes.io/hostname': o.nodeName,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': 'amd64',
  };
  if (o.controlPlane) labels['node-role.kubernetes.io/control-plane'] = '';
  const resources = { cpu: String(m.cpus), memory: `${m.memoryKi}Ki`, pods: '110', 'ephemeral-storage': '0' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: o.nodeName, labels },
    spec: {},
    status: {
      addresses: [
        { type: 'InternalIP', address: o.nodeIP },
        { type: 'Hostname', address: o.nodeName },
      ],
      conditions: nodeConditions(now),
      nodeInfo: {
        machineID: '',
        systemUUID: '',
        bootID: '',
        kernelVersion: m.kernelVersion,
        osImage: m.osImage,
        containerRuntimeVersion: 'podpath://0.1.0',
        kubeletVersion: 'v1.33.0',
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      capacity: { ...resources },
      allocatable: { ...resources },
      daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } },
    },
  };
}

export interface NodeStatusDeps {
  client: Pick<Client, 'get' | 'request'>;
  clock: Clock;
  machine: MachineInfo;
  /** the Node as the agent's informer last saw it */
  cached: () => Node | undefined;
}

export class NodeStatusManager {
  constructor(
    private readonly o: NodeStatusOptions,
    private readonly d: NodeStatusDeps,
  ) {}

  private now(): string {
    return apiTime(this.d.clock.now());
  }

  /** Creates the Node, or refreshes the status of the one there; retried each second until the API server answers. */
  async register(): Promise<void> {
    const path0 = objectPath('v1', 'nodes', undefined, this.o.nodeName);
    for (;;) {
      try {
        const cur = await this.d.client.get<Node>(path0).catch((e: { code?: number }) => {
          if (e.code === 404) return undefined;
          throw e;
        });
        const fresh = nodeObject(this.o, this.d.machine, this.now());
        if (!cur) await this.d.client.request('POST', '/api/v1/nodes', fresh);
        else await this.d.client.request('PUT', `${path0}/status`, { ...cur, status: { ...fresh.status, conditions: mergeConditions(cur.status?.conditions, fresh.status!.conditions!) } });
        return;
      } catch (e) {
        this.o.log(`registering node: ${(e as Error).message}`);
        await this.d.clock.sleep(1000);
      }
    }
  }

  /** Renews the conditions' heartbeat times (registering again if the Node is gone). */
  async heartbeat(): Promise<void> {
    const cur = this.d.cached();
    if (!cur) return void (await this.register());
    const body = { ...cur, status: { ...(cur.status ?? {}), conditions: mergeConditions(cur.status?.conditions, nodeConditions(this.now())) } };
    await this.d.client.request('PUT', objectPath('v1', 'nodes', undefined, this.o.nodeName, 'status'), body).catch((e) => this.o.log(`heartbeat: ${(e as Error).message}`));
  }
}
