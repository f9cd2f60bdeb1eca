#!/usr/bin/env node
// Runs the TypeScript sources directly, so `npm install` is the only set-up step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
await main(process.argv);
