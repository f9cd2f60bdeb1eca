import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

const root = fileURLToPath(new URL('.', import.meta.url));

// One single-page app for /portal and /dashboard, served by the API under /ui/.
export default defineConfig({
  root,
  base: '/ui/',
  // Quiet unless something is wrong: the build runs inside `npm pack --json`, whose standard
  // output must stay JSON. The size budget is checked by test/ui-serving.test.ts.
  logLevel: 'warn',
  plugins: [preact()],
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // The CSP allows no inline script: the polyfill would be one.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
