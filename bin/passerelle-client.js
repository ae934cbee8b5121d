#!/usr/bin/env node
// Runs the compiled client CLI (npm ci and npm run build compile TypeScript into dist/ first).
let cli;
try {
  cli = await import('../dist/client/cli.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/client/cli.js')) {
    process.stderr.write('passerelle-client is not built yet: run `npm run build` (npm ci does it for you)\n');
    process.exit(2);
  }
  throw err;
}
process.exitCode = await cli.main(process.argv.slice(2));
