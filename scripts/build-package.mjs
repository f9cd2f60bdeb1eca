// Builds the workspace package in the current directory: src/ to dist/esm (ES modules) and
// dist/cjs (CommonJS, marked by its own package.json), each with its .d.ts, by the TypeScript
// compiler alone. File for file, not bundled: the packages are small, a consumer's bundler
// tree-shakes them, and a test can read what each built entry point imports.
//
//   cd packages/<name> && node ../../scripts/build-package.mjs    (npm run build does this)
//
// The settings are the package's tsconfig.build.json; the CommonJS pass overrides the module
// format only. A package that imports another workspace package resolves it through
// node_modules, i.e. its built files and types, never its src/.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = (...args) => execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...args], { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
run('--outDir', 'dist/esm');
run('--outDir', 'dist/cjs', '--module', 'commonjs', '--moduleResolution', 'node10');
// The package is "type": "module"; this file makes Node and TypeScript read dist/cjs as CommonJS.
writeFileSync('dist/cjs/package.json', '{\n  "type": "commonjs"\n}\n');
