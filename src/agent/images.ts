// What a container runs. podpath has no image store: a built-in image is a podpath subcommand
// (after the agent's own argv), any other container runs its `command` from the host's
// filesystem inside the pod's namespace, and an image that is neither cannot run.
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
  // kube-proxy, as kubeadm's DaemonSet runs it: its args (--config=…, --hostname-override=…) say
  // where its KubeProxyConfiguration is, and that names its kubeconfig (the API server's address,
  // not the Service it programs).
  'podpath/kube-proxy': () => ['proxy'],
};

/** The paths of a built-in image's own program: a container `command` naming it runs the image (kubeadm's kube-proxy: command: [/usr/local/bin/kube-proxy, --config=…]). */
export const builtinEntrypoints: Record<string, string[]> = {
  'podpath/kube-proxy': ['/usr/local/bin/kube-proxy', 'kube-proxy'],
};

/** The directories under /etc an image brings with it, private to each pod (nginx.conf where the seeds look for it). */
export const imageEtcDirs: Record<string, string[]> = {
  'podpath/ingress-nginx-controller': ['nginx'],
};

/** An image reference without registry docker.io and tag: podpath/echo for docker.io/podpath/echo:1. */
export function imageName(image: string | undefined): string {
  return (image ?? '').replace(/^docker\.io\//, '').replace(/:[^/]*$/, '');
}

/** The command line, or why the container cannot run (the reason CreateContainerConfigError carries). */
export type ContainerCommand = { argv: string[]; etcDirs: string[]; /** a podpath subcommand (it reads files through the mount table) */ builtin: boolean } | { error: string };

/**
 * The command line of container `c`. `podpathArgv` starts podpath (e.g. [node, bin/podpath.js]);
 * `kubeconfig` gives the pod's in-cluster credentials, asked for only for a built-in image.
 */
export function containerCommand(c: Container, podpathArgv: string[], kubeconfig: () => string): ContainerCommand {
  const builtin = builtinImages[imageName(c.image)];
  const etcDirs = imageEtcDirs[imageName(c.image)] ?? [];
  if (builtin && !c.command?.length) return { argv: [...podpathArgv, ...builtin(c, kubeconfig), ...(c.args ?? [])], etcDirs, builtin: true };
  if (builtin && builtinEntrypoints[imageName(c.image)]?.includes(c.command![0]!)) return { argv: [...podpathArgv, ...builtin(c, kubeconfig), ...c.command!.slice(1), ...(c.args ?? [])], etcDirs, builtin: true };
  if (c.command?.length) return { argv: [...c.command, ...(c.args ?? [])], etcDirs, builtin: false };
  return { error: `image ${c.image ?? '(none)'} is not built into podpath and the container has no command; podpath runs built-in images (${Object.keys(builtinImages).join(', ')}) or a container's command from the host's filesystem inside the pod's network namespace` };
}
