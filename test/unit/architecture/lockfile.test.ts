import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../helpers/corpus.js';

// `npm ci` refuses a lockfile that lacks an entry for any optional dependency, even one for another
// platform. The registry this project installs from does not serve every msgpackr-extract platform
// build, so `npm install` silently drops those entries; this test catches it before CI does.
t.test('every optional dependency in the lockfile has its own entry (npm ci needs them)', async (t) => {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { optionalDependencies?: Record<string, string> }>;
  };
  const missing: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
      const nested = `${path ? `${path}/` : ''}node_modules/${dep}`;
      if (!(nested in lock.packages) && !(`node_modules/${dep}` in lock.packages)) missing.push(`${path || '(root)'} -> ${dep}`);
    }
  }
  t.same(missing, [], 'no optional dependency is missing from package-lock.json');
});
