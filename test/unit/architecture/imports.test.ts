import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT, listFiles } from '../../helpers/corpus.js';

// DESIGN.md section 3, with the wire protocol in its own tree: protocol/ (envelopes, certificates,
// directory log, receipts, the error registry) imports nothing else in the repo, and gateway and
// client both import it, so a signed format has one definition; adapters import gateway/core and
// protocol only (and gateway/terminology, the code checks every format shares, which imports only core);
// gateway never imports adapters except in its composition roots (main.ts, the
// normalize thread's normalize-main.ts, and wiring.ts, what both build alike); client imports
// protocol only; no import cycles.
const ROOTS = new Set(['gateway/main.ts', 'gateway/normalize-main.ts', 'gateway/wiring.ts']);

const SOURCE_DIRS = ['protocol', 'gateway', 'adapters', 'client'];
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function sources(): string[] {
  return SOURCE_DIRS.flatMap((d) => {
    try {
      return listFiles(join(REPO_ROOT, d), '.ts').filter((f) => !f.endsWith('.d.ts'));
    } catch {
      return [];
    }
  });
}

/** Repo-relative .ts paths a file imports (type-only imports count too: they still couple modules). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    if (!spec) continue;
    out.push(relative(REPO_ROOT, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
  }
  return out;
}

const graph = new Map(sources().map((f) => [relative(REPO_ROOT, f), importsOf(f)]));

t.test('the import graph was read', async (t) => {
  t.ok(graph.size > 20, `${graph.size} source files`);
  t.ok(graph.get('gateway/main.ts')?.includes('gateway/http/server.ts'), 'main imports the server');
});

t.test('dependency direction', async (t) => {
  const violations: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      if (from.startsWith('protocol/') && !to.startsWith('protocol/')) violations.push(`${from} -> ${to}`);
      if (from.startsWith('adapters/') && to.startsWith('gateway/') && !/^gateway\/(core|terminology)\//.test(to)) violations.push(`${from} -> ${to}`);
      if (from.startsWith('gateway/terminology/') && !/^(gateway\/(core|terminology)|protocol)\//.test(to)) violations.push(`${from} -> ${to}`);
      if (from.startsWith('gateway/') && !ROOTS.has(from) && to.startsWith('adapters/')) violations.push(`${from} -> ${to}`);
      if (from.startsWith('gateway/core/') && !/^(gateway\/core|protocol)\//.test(to)) violations.push(`${from} -> ${to}`);
      if (from.startsWith('client/') && !/^(client|protocol)\//.test(to)) violations.push(`${from} -> ${to}`);
    }
  }
  t.same(violations, [], 'no import crosses the layering rules');
});

t.test('no import cycles', async (t) => {
  const cycles: string[] = [];
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'active');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'active') cycles.push([...stack.slice(stack.indexOf(next)), next].join(' -> '));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  t.same(cycles, [], 'the module graph is acyclic');
});
