/**
 * `npm run bench`: runs every compiled bench/*.bench.js in its own process, one after another
 * (benchmarks on a 2-core machine must not compete with each other). Each prints its own table
 * against a baseline measured in the same run.
 * Usage: node dist/bench/run.js [name-filter]
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const files = readdirSync(here).filter((f) => f.endsWith('.bench.js') && f.includes(filter)).sort();
let failed = 0;
for (const file of files) {
  process.stdout.write(`\n=== ${file.replace(/\.js$/, '')} ===\n`);
  const result = spawnSync(process.execPath, ['--expose-gc', join(here, file)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    process.stdout.write(`${file} exited with ${result.status ?? result.signal}\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
