// Writes build/model-types.json: each model class of @kubernetes/client-node (generated from
// upstream's OpenAPI document) with its fields' JSON names, types and formats, read from the
// models' attributeTypeMap. The API's decoder and printers (src/api/schema.ts) read this table
// instead of importing the package's ~700 model modules, which cost every process that decodes
// objects (the API server, the controller manager) about 10 MiB and a fifth of a second to start.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The table: { source, models: { V1ServicePort: [[baseName, type, format], ...] } }. */
export async function modelTypes(root) {
  const require = createRequire(path.join(root, 'package.json'));
  const allJs = require.resolve('@kubernetes/client-node/dist/gen/models/all.js');
  const { version } = JSON.parse(fs.readFileSync(path.join(path.dirname(allJs), '../../../package.json'), 'utf8'));
  const modelsMod = await import(allJs);
  const models = {};
  for (const name of Object.keys(modelsMod).sort()) {
    const map = modelsMod[name]?.attributeTypeMap;
    if (Array.isArray(map)) models[name] = map.map((a) => [a.baseName, a.type, a.format]);
  }
  return { source: `@kubernetes/client-node ${version}`, models };
}

export async function generateModelTypes(root) {
  const out = path.join(root, 'build/model-types.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(await modelTypes(root)));
  return out;
}

