// What a container runs. podpath has no image store: a built-in image is a podpath subcommand
// (after the agent's own argv), or its native program where podpath has one (podpath/echo); busybox and alpine run Debian's busybox — the image's default
// command `sh`, and every command the container names an applet, found on a PATH that holds
// busybox's applets only (so `sh -c 'wget …; nslookup …'` uses busybox's too, and a program
// busybox does not have is not found, as in the image); nicolaka/netshoot runs the host's own
// debugging tools; any other container runs its `command` from the host's filesystem inside the
// pod's namespace, and an image that is none of these cannot run.
import fs from 'node:fs';
import path from 'node:path';
import type { Container } from '../api/types.ts';

/**
 * podpath/echo listens on every containerPort: HTTP on each TCP one, the UDP echo on each UDP one
 * (NetworkPolicy tests probe ports 80 and 81 over both). Without a TCP port it serves HTTP on the
 * first containerPort, or 8080.
 */
function echoArgs(c: Container): string[] {
  const ports = c.ports ?? [];
  const tcp = ports.filter((p) => (p.protocol ?? 'TCP') === 'TCP').map((p) => p.containerPort);
  const udp = ports.filter((p) => p.protocol === 'UDP').map((p) => p.containerPort);
  const http = tcp.length ? tcp : [ports[0]?.containerPort ?? 8080];
  return ['image', 'echo', ...[...new Set(http)].flatMap((p) => ['--port', String(p)]), ...[...new Set(udp)].flatMap((p) => ['--udp-port', String(p)])];
}

/** Built-in images: the podpath subcommand each runs (`kubeconfig` writes the pod's in-cluster kubeconfig and gives its path). */
export const builtinImages: Record<string, (c: Container, kubeconfig: () => string) => string[]> = {
  'podpath/echo': echoArgs,
  // The cluster DNS, reaching the API server through the `kubernetes` Service as a pod does.
  'podpath/coredns': (_c, kubeconfig) => ['dns', '--kubeconfig', kubeconfig()],
  // ingress-nginx's controller: a real nginx driven by `podpath ingress-controller`.
  'podpath/ingress-nginx-controller': (_c, kubeconfig) => ['ingress-controller', '--kubeconfig', kubeconfig()],
  // the Gateway API controller on the same data plane: `podpath gateway-controller`
  'podpath/gateway-controller': (_c, kubeconfig) => ['gateway-controller', '--kubeconfig', kubeconfig()],
  // kube-proxy, as kubeadm's DaemonSet runs it: its args (--config=…, --hostname-override=…) say
  // where its KubeProxyConfiguration is, and that names its kubeconfig (the API server's address,
  // not the Service it programs).
  'podpath/kube-proxy': () => ['proxy'],
  // the NetworkPolicy agent; its args say which node (--node-name), in-cluster credentials say where the API server is
  'podpath/netpol': () => ['netpol', 'agent'],
  // the node's network daemon, as flannel's image runs flanneld (its args: --ip-masq --kube-subnet-mgr)
  'podpath/flannel': () => ['flanneld'],
  // the node's BGP daemon, as Calico's calico/node image runs BIRD (its args: --ip-masq, --route-reflector, timers)
  'podpath/calico-node': () => ['calico-node'],
};

/**
 * Built-in images with a native program of their own (build/PROGRAM, which scripts/build.js
 * compiles): the container runs it — about a MiB instead of a Node process's fifty — with the
 * podpath subcommand's flags; without it, the podpath subcommand, which answers the same.
 */
export const nativeImages: Record<string, { program: string; subcommand: string[] }> = {
  'podpath/echo': { program: 'echo', subcommand: ['image', 'echo'] },
};

/** The paths of a built-in image's own program: a container `command` naming it runs the image (kubeadm's kube-proxy: command: [/usr/local/bin/kube-proxy, --config=…]). */
export const builtinEntrypoints: Record<string, string[]> = {
  'podpath/kube-proxy': ['/usr/local/bin/kube-proxy', 'kube-proxy'],
  'podpath/flannel': ['/opt/bin/flanneld', 'flanneld'],
};

/** The directories under /etc an image brings with it, private to each pod (nginx.conf where the seeds look for it). */
export const imageEtcDirs: Record<string, string[]> = {
  'podpath/ingress-nginx-controller': ['nginx'],
  'podpath/gateway-controller': ['nginx'],
};

/** An image reference without Docker Hub's registry, library/ and tag or digest: busybox for docker.io/library/busybox:1.36, podpath/echo for docker.io/podpath/echo:1. */
export function imageName(image: string | undefined): string {
  return (image ?? '')
    .replace(/@sha256:[0-9a-f]+$/, '')
    .replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '')
    .replace(/^library\//, '')
    .replace(/:[^/]*$/, '');
}

/** Images made of Debian's busybox, with the command each runs when the container names none (the image's CMD). */
export const busyboxImages: Record<string, string[]> = {
  busybox: ['sh'],
  alpine: ['/bin/sh'],
};

/** An image of the host's own debugging tools (curl, dig, nslookup, tcpdump, ip, ss, iptables, nft, conntrack, …), and its default command. */
export const toolImages: Record<string, string[]> = {
  'nicolaka/netshoot': ['bash'],
};

/** What the machine provides for the images that are not podpath's own. */
export interface ImageTools {
  /** a directory of busybox's applets (`busybox --install -s`), or why there is none */
  busyboxBin(): string | { error: string };
  /** a built-in image's native program (build/PROGRAM), if this checkout built it */
  nativeProgram?(program: string): string | undefined;
}

/** The command line, or why the container cannot run (the reason CreateContainerConfigError carries). */
export type ContainerCommand =
  | {
      argv: string[];
      etcDirs: string[];
      /** a podpath subcommand */
      builtin: boolean;
      /** host paths the image brings, seen at the same paths in the container (busybox's applets) */
      files?: string[];
      /** what the image sets in the environment (busybox's PATH), under the container's own env */
      env?: Record<string, string>;
    }
  | { error: string };

/** A command of a busybox image: its program an applet, by name or by path (/bin/sh, /usr/bin/wget). */
function busyboxCommand(c: Container, defaults: string[], tools: ImageTools | undefined): ContainerCommand {
  const bin = tools?.busyboxBin() ?? { error: 'busybox is not available to this node agent' };
  if (typeof bin !== 'string') return { error: bin.error };
  const argv = c.command?.length ? [...c.command, ...(c.args ?? [])] : c.args?.length ? [...c.args] : [...defaults];
  const program = argv[0]!;
  const applet = path.join(bin, path.basename(program));
  if (!fs.existsSync(applet)) return { error: `exec: "${program}": executable file not found in $PATH` };
  return { argv: [applet, ...argv.slice(1)], etcDirs: [], builtin: false, env: { PATH: bin }, files: [bin] };
}

/**
 * The command line of container `c`. `podpathArgv` starts podpath (e.g. [node, bin/podpath.js]);
 * `kubeconfig` gives the pod's in-cluster credentials, asked for only for a built-in image.
 */
export function containerCommand(c: Container, podpathArgv: string[], kubeconfig: () => string, tools?: ImageTools): ContainerCommand {
  const name = imageName(c.image);
  if (busyboxImages[name]) return busyboxCommand(c, busyboxImages[name], tools);
  if (toolImages[name]) return { argv: c.command?.length ? [...c.command, ...(c.args ?? [])] : c.args?.length ? [...c.args] : [...toolImages[name]], etcDirs: [], builtin: false };
  const builtin = builtinImages[name];
  const etcDirs = imageEtcDirs[imageName(c.image)] ?? [];
  const native = nativeImages[name];
  const nativeBin = native && !c.command?.length ? tools?.nativeProgram?.(native.program) : undefined;
  if (builtin && nativeBin) return { argv: [nativeBin, ...builtin(c, kubeconfig).slice(native!.subcommand.length), ...(c.args ?? [])], etcDirs, builtin: true };
  if (builtin && !c.command?.length) return { argv: [...podpathArgv, ...builtin(c, kubeconfig), ...(c.args ?? [])], etcDirs, builtin: true };
  if (builtin && builtinEntrypoints[imageName(c.image)]?.includes(c.command![0]!)) return { argv: [...podpathArgv, ...builtin(c, kubeconfig), ...c.command!.slice(1), ...(c.args ?? [])], etcDirs, builtin: true };
  if (c.command?.length) return { argv: [...c.command, ...(c.args ?? [])], etcDirs, builtin: false };
  return { error: `image ${c.image ?? '(none)'} is not built into podpath and the container has no command; podpath runs built-in images (${[...Object.keys(builtinImages), ...Object.keys(busyboxImages), ...Object.keys(toolImages)].join(', ')}) or a container's command from the host's filesystem inside the pod's network namespace` };
}
