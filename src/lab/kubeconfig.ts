// The lab's context for kubectl: written to the file `--kubeconfig` names, or merged into the
// user's kubeconfig (and taken out again when the lab is removed).
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../client/client.ts';
import { mergeKubeconfig, unmergeKubeconfig, writeKubeconfig } from '../client/kubeconfig.ts';
import { tunnelHost } from './defaults.ts';
import { labPaths, writeState, type LabState } from './lab.ts';

/** kubectl's kubeconfig: the first of $KUBECONFIG, or ~/.kube/config. */
export function defaultKubeconfig(): string {
  return process.env.KUBECONFIG?.split(':')[0] || path.join(os.homedir(), '.kube/config');
}

/** podpath for the default lab, podpath-NAME for the others. */
export function contextName(lab: string): string {
  return lab === 'podpath' ? 'podpath' : `podpath-${lab}`;
}

/** Gives kubectl the lab (its API server through the host's tunnel) and records where in the lab's state. */
export function publishKubeconfig(s: LabState, file: string | undefined): { file: string; context: string } {
  const admin = loadConfig(labPaths(s.name).adminKubeconfig);
  const context = contextName(s.name);
  const entry = { name: context, server: `https://${tunnelHost}:${s.apiPort}`, caCert: admin.ca!, token: admin.token! };
  const kc = file ?? defaultKubeconfig();
  if (file) writeKubeconfig(kc, entry);
  else mergeKubeconfig(kc, entry);
  s.kubeconfig = kc;
  s.context = context;
  writeState(s);
  return { file: kc, context };
}

/** Takes the lab's context out of the user's kubeconfig, if it was merged there. */
export function unpublishKubeconfig(s: LabState | undefined): void {
  if (s?.kubeconfig && s.context && s.kubeconfig === defaultKubeconfig()) unmergeKubeconfig(s.kubeconfig, s.context);
}
