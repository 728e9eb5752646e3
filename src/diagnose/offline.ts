// `podpath diagnose -f STATE.yaml`: the checklist over a state file's objects (the trace's kinds,
// and Events if it has them, as `kubectl get events -o yaml` writes them), with no live facts:
// the checks only a running lab can answer say they were not run.
import { readStateFiles } from '../api/state.ts';
import type { Event, KubeObject } from '../api/types.ts';
import { sortObjects, traceKinds, type AddressPlan, type ClusterObjects } from '../trace/cluster.ts';
import { diagnose, type DiagnoseRequest } from './diagnose.ts';
import type { Diagnosis } from './types.ts';

const kinds = [...traceKinds, { apiVersion: 'v1', kind: 'Event', namespaced: true }];

export function readDiagnoseState(files: string[]): { objects: ClusterObjects; events: Event[] } {
  const all: KubeObject[] = readStateFiles(files, kinds);
  return { objects: sortObjects(all), events: all.filter((o) => o.kind === 'Event') as Event[] };
}

export function diagnoseFiles(files: string[], plan: AddressPlan, mode: string, req: DiagnoseRequest): Diagnosis {
  const { objects, events } = readDiagnoseState(files);
  return diagnose({ objects, events, plan, mode }, req);
}
