#!/usr/bin/env node
// The podpath CLI. Sources are TypeScript, loaded through tsx so a checkout runs without a build step.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
