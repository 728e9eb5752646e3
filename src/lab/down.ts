// Removing a lab: everything it made (processes, namespaces, files) and its kubectl context.
import { destroyLab, readState, validateLabName } from './lab.ts';
import { unpublishKubeconfig } from './kubeconfig.ts';

/** Removes lab `name`; what was done, a line each. */
export async function removeLab(name: string): Promise<string[]> {
  validateLabName(name);
  const s = readState(name);
  const done = await destroyLab(name);
  unpublishKubeconfig(s);
  return done;
}
