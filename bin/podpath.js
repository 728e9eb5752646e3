#!/usr/bin/env node
// The podpath CLI. Sources are TypeScript, loaded through tsx so a checkout runs without a build step.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 18)) {
  process.stderr.write(`podpath: Node.js >= 20.18 is required (this is ${process.version}). Install Node 20 or newer (nodejs.org or NodeSource).\n`);
  process.exit(1);
}
const { register } = await import('tsx/esm/api').catch(() => {
  process.stderr.write('podpath: dependencies are missing; run `npm ci` in the podpath checkout first.\n');
  process.exit(1);
});
register();
await import('../src/cli/main.ts');
