// Reading kube-proxy's configuration file (--config): kept apart from config.ts so that only the
// commands that take one load the YAML parser.
import fs from 'node:fs';
import YAML from 'yaml';
import { kubeProxyFileSettings, ProxyConfigError, type KubeProxyFileSettings } from './config.ts';

/** A KubeProxyConfiguration file's settings; any fault is an error naming the file. */
export function readKubeProxyConfig(file: string): KubeProxyFileSettings {
  let doc: unknown;
  try {
    doc = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ProxyConfigError(`--config ${file}: ${(e as Error).message}`);
  }
  return kubeProxyFileSettings(doc, file);
}
