// What the runtime knows of each pod it runs (its sandbox, and per container the process, state
// and restart bookkeeping), checkpointed to a file per pod: a restarted agent reads them back and
// adopts the pods that kept running instead of creating them again.
import fs from 'node:fs';
import path from 'node:path';
import type { ContainerState } from '../api/types.ts';

export interface RuntimeContainer {
  pid?: number;
  startedAt?: string;
  /** startedAt to the millisecond (the API's timestamps are whole seconds) */
  startedAtMs?: number;
  /** started by this agent and still assembling its root: its own command has not run yet (no probes) */
  execPending?: boolean;
  restartCount: number;
  state: ContainerState;
  lastState?: ContainerState;
  /** the current crash-loop back-off */
  backoffSeconds?: number;
  /** not restarted before this time (ms since the epoch) */
  nextStart?: number;
  ready: boolean;
  started: boolean;
}

export interface RuntimePod {
  uid: string;
  namespace: string;
  name: string;
  /** the sandbox: the pod's network namespace */
  netns: string;
  podIP?: string;
  /** the sandbox is the node's own network namespace */
  hostNetwork?: boolean;
  startTime: string;
  containers: Record<string, RuntimeContainer>;
  terminating?: boolean;
}

/** A container the runtime has not started yet, waiting for `reason`. */
export function waitingContainer(reason: string): RuntimeContainer {
  return { restartCount: 0, state: { waiting: { reason } }, ready: false, started: false };
}

/** A checkpoint read back: the pod, or why its file cannot be read. */
export type Checkpoint = { file: string; pod: RuntimePod } | { file: string; error: string };

export class CheckpointStore {
  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  private file(uid: string): string {
    return path.join(this.dir, `${uid}.json`);
  }

  save(rp: RuntimePod): void {
    fs.writeFileSync(this.file(rp.uid), JSON.stringify(rp));
  }

  remove(uid: string): void {
    fs.rmSync(this.file(uid), { force: true });
  }

  /** Every checkpoint on disk. */
  loadAll(): Checkpoint[] {
    return fs.readdirSync(this.dir).map((f) => {
      try {
        return { file: f, pod: JSON.parse(fs.readFileSync(path.join(this.dir, f), 'utf8')) as RuntimePod };
      } catch (e) {
        return { file: f, error: (e as Error).message };
      }
    });
  }
}
