// Invoking CNI plugins as the CNI specification (SPEC.md) describes and as kubelet does:
// each plugin of a network configuration list is executed with CNI_COMMAND/CNI_CONTAINERID/
// CNI_NETNS/CNI_IFNAME/CNI_PATH in its environment and its configuration on stdin, ADD in
// order with the previous plugin's result, DEL in reverse order.
import { defaultExecutor, type Executor } from '../exec/exec.ts';

export const cniPath = process.env.PODPATH_CNI_PATH ?? '/usr/lib/cni';

export interface CniIP {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: CniIP[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

export interface NetConfList {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export class CniError extends Error {
  constructor(
    readonly plugin: string,
    readonly code: number,
    /** the plugin's own words */
    readonly detail: string,
    /** the network (conflist name), once known */
    readonly network?: string,
  ) {
    super(`CNI plugin ${plugin} failed (code ${code}): ${detail}`);
  }
}

/** What containerd tells the kubelet when a plugin's ADD fails (the FailedCreatePodSandBox event's text after "Failed to create pod sandbox: "). */
export function sandboxSetupError(e: CniError, sandboxId: string): string {
  return `rpc error: code = Unknown desc = failed to setup network for sandbox ${JSON.stringify(sandboxId)}: plugin type=${JSON.stringify(e.plugin)}${e.network ? ` name=${JSON.stringify(e.network)}` : ''} failed (add): ${e.detail}`;
}

/** The pod network of one node: a bridge with hairpin mode, host-local IPAM over its pod CIDR. */
export function nodeConfList(podCIDR: string, ipamDataDir: string, mtu?: number): NetConfList {
  return {
    cniVersion: '1.0.0',
    name: 'podpath',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        // Pod-to-pod traffic keeps its addresses across nodes; the agent masquerades only
        // traffic leaving the cluster network (as kindnet and ip-masq-agent do).
        ipMasq: false,
        hairpinMode: true,
        ...(mtu ? { mtu } : {}),
        ipam: { type: 'host-local', ranges: [[{ subnet: podCIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDataDir },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  };
}

export const loopbackConf: NetConfList = { cniVersion: '1.0.0', name: 'podpath-lo', plugins: [{ type: 'loopback' }] };

export interface CniInvocation {
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS, e.g. K8S_POD_NAMESPACE=...;K8S_POD_NAME=... */
  args?: Record<string, string>;
  /** runtimeConfig for plugins that declare capabilities (portmap's portMappings) */
  runtimeConfig?: Record<string, unknown>;
}

/** Runs one plugin through the executor; its result, or a CniError from its exit or error JSON. */
async function execPlugin(ex: Executor, plugin: string, command: 'ADD' | 'DEL' | 'CHECK', conf: Record<string, unknown>, inv: CniInvocation): Promise<CniResult> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifname,
    CNI_PATH: cniPath,
  };
  if (inv.args) env.CNI_ARGS = Object.entries(inv.args).map(([k, v]) => `${k}=${v}`).join(';');
  const r = await ex.execAsync([`${cniPath}/${plugin}`], { env, input: JSON.stringify(conf) });
  // The plugin did not start.
  if (r.error !== undefined) throw new CniError(plugin, -1, `${r.error} (is containernetworking-plugins installed in ${cniPath}?)`);
  const out = r.stdout;
  if (r.status === 0) {
    try {
      return out.trim() ? (JSON.parse(out) as CniResult) : {};
    } catch {
      throw new CniError(plugin, -1, `unparsable result: ${out}`);
    }
  }
  let msg = r.stderr.trim() || out.trim();
  try {
    const e = JSON.parse(out) as { code?: number; msg?: string; details?: string };
    msg = `${e.msg ?? ''}${e.details ? `: ${e.details}` : ''}`;
  } catch {
    // stderr text
  }
  throw new CniError(plugin, r.status ?? -1, msg);
}

function pluginConf(list: NetConfList, p: Record<string, unknown>, inv: CniInvocation, prevResult?: CniResult): Record<string, unknown> {
  const conf: Record<string, unknown> = { cniVersion: list.cniVersion, name: list.name, ...p };
  const caps = p.capabilities as Record<string, boolean> | undefined;
  if (caps && inv.runtimeConfig) {
    const rc: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(inv.runtimeConfig)) if (caps[k]) rc[k] = v;
    if (Object.keys(rc).length) conf.runtimeConfig = rc;
  }
  if (prevResult) conf.prevResult = prevResult;
  return conf;
}

export async function cniAdd(list: NetConfList, inv: CniInvocation, ex: Executor = defaultExecutor): Promise<CniResult> {
  let result: CniResult | undefined;
  try {
    for (const p of list.plugins) result = await execPlugin(ex, String(p.type), 'ADD', pluginConf(list, p, inv, result), inv);
  } catch (e) {
    if (e instanceof CniError) throw new CniError(e.plugin, e.code, e.detail, list.name);
    throw e;
  }
  return result ?? {};
}

export async function cniDel(list: NetConfList, inv: CniInvocation, ex: Executor = defaultExecutor): Promise<void> {
  const errors: string[] = [];
  for (const p of [...list.plugins].reverse()) {
    try {
      await execPlugin(ex, String(p.type), 'DEL', pluginConf(list, p, inv), inv);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length) throw new Error(errors.join('; '));
}
