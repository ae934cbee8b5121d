/**
 * Bench input shared by the HL7 benches: every message of the shared corpus's .hl7 files
 * (nHapi bad inputs excluded), split out of batches. Read from ../shared/corpus, never copied.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitBatch } from '../adapters/hl7v2/batch.js';

/** dist/bench/ → repo root → ../shared/corpus */
const CORPUS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'corpus');

function walk(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Corpus messages as text, in a stable order. */
export function corpusMessages(): string[] {
  const files = ['hl7v2', 'hl7v2-to-fhir'].flatMap((d) => walk(join(CORPUS, d)))
    .filter((f) => f.endsWith('.hl7') && !f.includes('/nhapi/bad-inputs/'));
  if (files.length === 0) throw new Error(`no corpus under ${CORPUS}`);
  return files.flatMap((f) => splitBatch(readFileSync(f)).messages);
}

/** Deterministic PRNG (mulberry32) so every run cuts the same chunks. */
export function seeded(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
