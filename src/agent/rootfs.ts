// A container's own view of the filesystem and its own hostname, as a container runtime gives
// one: each container process starts in new mount and UTS namespaces (inside the pod's network
// namespace) whose root is an overlay of the host's / with a private writable layer in memory,
// a fresh /run, a sysfs of the pod's network namespace, the kubelet-managed /etc files
// (resolv.conf, hosts, hostname) and the image's /etc directories bound in, and each volume
// mounted at its mountPath — read-only where the kubelet mounts it so. Nothing is created on the
// host: the namespace and its mounts go away with the container's last process.
//
// The assembly is a shell script run between `unshare` and the container's command (each step
// execs the next, so the container keeps the PID the agent started): the first stage mounts the
// root and brings every bind source inside it; the second, chrooted, moves each to its target
// (symlinks in a target, /var/run → /run, resolve inside the container's root as they would in
// an image) and execs the command. `kubectl exec` and exec probes enter the same namespaces and
// root through the container's PID (exec.ts enterArgv).
import { hostTool } from '../exec/exec.ts';

/** A host path seen inside the container at `target`. */
export interface Bind {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface ContainerRoot {
  /** the network namespace (a name under /run/netns): the pod's, or a host-network pod's alias of the node's */
  netns: string;
  hostname: string;
  /** a directory on the host the root is assembled on (a mount point only inside the container's namespace) */
  mountPoint: string;
  /** /etc/netns/NAME: each entry is bound over /etc/<entry> (resolv.conf, hosts, an image's nginx/) */
  etcDir: string;
  binds: Bind[];
  workingDir?: string;
}

// Stage 1, on the host's view: the root, the system mounts, and each bind source mounted under the
// new root's /run/.binds, listed with its target and mode for stage 2. Binds are recursive, as
// container runtimes make them (rbind): a hostPath of / brings the node's /proc, /sys and /dev.
// The staging area is a tmpfs of its own, let go of (not removed) once every bind is moved: a
// recursive bind of / holds copies of the staging mounts, which no one could unlink.
const stage1 = `set -e
P=$PATH; PATH=/usr/sbin:/usr/bin:/sbin:/bin
R=$1 E=$2 H=$3 W=$4 S=$5; shift 5
mount -t tmpfs -o mode=0755 container "$R"
mkdir "$R/upper" "$R/work" "$R/root"
F=$R/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$R/upper,workdir=$R/work" "$F"
mount --rbind /proc "$F/proc"
mount -t sysfs sysfs "$F/sys"
mount --rbind /dev "$F/dev"
mount -t tmpfs -o mode=0755 tmpfs "$F/run"
mkdir "$F/run/.binds"
mount -t tmpfs -o mode=0700 binds "$F/run/.binds"
n=0
stage() {
  n=$((n + 1))
  if [ -d "$1" ]; then mkdir "$F/run/.binds/$n"; else : > "$F/run/.binds/$n"; fi
  mount --rbind "$1" "$F/run/.binds/$n"
  printf '%s %s\\n' "$3" "$2" >> "$F/run/.binds/list"
}
for f in "$E"/*; do
  if [ -e "$f" ]; then stage "$f" "/etc/\${f##*/}" rw; fi
done
while [ "$1" != -- ]; do stage "$1" "$2" "$3"; shift 3; done
shift
: >> "$F/run/.binds/list"
exec chroot "$F" /bin/sh -c "$S" container "$H" "$W" "$P" "$@"`;

// Stage 2, chrooted: each bind moved to its target (made as a directory or an empty file, a
// symlink in its place replaced), read-only where asked; the hostname; the command, with fd 3
// closed first: the agent's pipe there tells it the container's own process now runs.
const stage2 = `set -e
H=$1 W=$2 P=$3; shift 3
i=0
while read -r ro t; do
  i=$((i + 1))
  s=/run/.binds/$i
  if [ -L "$t" ]; then rm -f "$t"; fi
  if [ -d "$s" ]; then mkdir -p "$t"; else mkdir -p "$(dirname "$t")"; [ -e "$t" ] || : > "$t"; fi
  mount --move "$s" "$t"
  if [ "$ro" = ro ]; then mount -o remount,bind,ro "$t"; fi
done < /run/.binds/list
umount -l /run/.binds
hostname "$H"
echo "$H" > /etc/hostname
mkdir -p "$W"
cd "$W"
exec 3>&-
PATH=$P exec "$@"`;

/**
 * The command line that runs argv as a container: in the pod's network namespace, in new mount
 * and UTS namespaces, with the root assembled as above.
 */
export function containerArgv(r: ContainerRoot, argv: string[]): string[] {
  const binds = r.binds.flatMap((b) => [b.source, b.target, b.readOnly ? 'ro' : 'rw']);
  return [
    hostTool('nsenter'),
    `--net=/run/netns/${r.netns}`,
    '--',
    hostTool('unshare'),
    '--mount',
    '--uts',
    '--propagation',
    'private',
    '--',
    '/bin/sh',
    '-c',
    stage1,
    'container',
    r.mountPoint,
    r.etcDir,
    r.hostname,
    r.workingDir ?? '/',
    stage2,
    ...binds,
    '--',
    ...argv,
  ];
}

/** What containerArgv was given, read back from its command line (for whoever inspects a started container's argv). */
export function parseContainerArgv(argv: string[]): { root: ContainerRoot; argv: string[] } | undefined {
  const at = argv.indexOf('container');
  if (at < 0 || !argv[0]!.endsWith('nsenter')) return undefined;
  const netns = /^--net=\/run\/netns\/(.+)$/.exec(argv[1] ?? '')?.[1];
  const [mountPoint, etcDir, hostname, workingDir] = argv.slice(at + 1, at + 5);
  if (!netns || workingDir === undefined) return undefined;
  const binds: Bind[] = [];
  let i = at + 6;
  for (; i < argv.length && argv[i] !== '--'; i += 3) binds.push({ source: argv[i]!, target: argv[i + 1]!, readOnly: argv[i + 2] === 'ro' });
  return { root: { netns, hostname: hostname!, mountPoint: mountPoint!, etcDir: etcDir!, binds, ...(workingDir !== '/' ? { workingDir } : {}) }, argv: argv.slice(i + 1) };
}
