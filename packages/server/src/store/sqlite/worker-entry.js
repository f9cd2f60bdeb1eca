// Runs the SQLite store's thread from the TypeScript sources, as bin/hookwell.js does for
// the main thread.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
