// The model data OpenAPI schemas are built from: build/openapi-models.json, which scripts/build.js
// writes from @kubernetes/client-node's declarations (upstream's definition names, descriptions
// and required fields). Field types come from the models themselves (src/api/schema.ts).
import fs from 'node:fs';
import path from 'node:path';
import { checkoutRoot } from '../../util/built.ts';

export interface FieldDoc {
  description: string;
  required?: true;
  /** a metav1.MicroTime rather than a metav1.Time */
  micro?: true;
}

export interface ModelDoc {
  /** upstream's definition name, io.k8s.api.core.v1.ServiceSpec */
  name: string;
  description: string;
  fields: Record<string, FieldDoc>;
}

export interface ModelData {
  source: string;
  /** API group -> Go package in reverse-DNS form, without the version (io.k8s.api.apps) */
  packages: Record<string, string>;
  models: Record<string, ModelDoc>;
}

export class ModelDataMissing extends Error {}

const fileName = 'build/openapi-models.json';

let cached: ModelData | undefined;

export function loadModelData(file = path.join(checkoutRoot() ?? '.', fileName)): ModelData {
  if (cached) return cached;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ModelDataMissing(`${fileName} is missing: run \`npm run build\` in the podpath checkout (it needs the typescript devDependency) to generate the OpenAPI model data`);
  }
  cached = JSON.parse(text) as ModelData;
  return cached;
}
