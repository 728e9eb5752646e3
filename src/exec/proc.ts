// Process liveness and signals, for those that supervise processes (the lab, the node agent).
import fs from 'node:fs';

/** Whether a process exists and is not a zombie (a zombie has exited; only its parent's reaping is pending). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Signals a process's group (the lab starts its processes detached, each leading a group), or the process alone. */
export function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}
