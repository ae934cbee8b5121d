import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is test/helpers/corpus.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Absolute path inside ../shared/corpus (never copied into the repo). Fails loudly when missing.
 * @param rel - path relative to the corpus root, e.g. `hl7v2/nhapi/bad-inputs`
 */
export function corpus(rel = ''): string {
  const path = resolve(REPO_ROOT, '..', 'shared', 'corpus', rel);
  if (!existsSync(path)) throw new Error(`corpus path missing: ${path} (is ../shared beside the repo?)`);
  return path;
}

/** Same for ../shared/vectors. */
export function vectors(rel = ''): string {
  const path = resolve(REPO_ROOT, '..', 'shared', 'vectors', rel);
  if (!existsSync(path)) throw new Error(`vectors path missing: ${path}`);
  return path;
}

/** Every file below dir (recursive), sorted, optionally filtered by suffix. */
export function listFiles(dir: string, suffix?: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p, suffix));
    else if (!suffix || name.endsWith(suffix)) out.push(p);
  }
  return out;
}
