#!/usr/bin/env node
// Runs the compiled server in dist/. In this repository `npm install`, `npm start` and `npm test`
// build it first (`npm run build`); a packed or published package ships it built.
const cli = await import('../dist/cli.js').catch((err) => {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.url ?? err.message).includes('/dist/cli.js')) {
    process.stderr.write('hookwell: the server is not built (no dist/cli.js); run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
});
await cli.main(process.argv);
