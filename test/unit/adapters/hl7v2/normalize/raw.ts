import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LOCAL_REF_PREFIX, type Normalized, type NormalizedRecord } from '../../../../../gateway/core/ports.js';
import type { RawMessage } from '../../../../../gateway/core/types.js';
import { hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { corpus } from '../../../../helpers/corpus.js';

/** A RawMessage around bytes, as intake would store it. */
export function rawOf(body: Uint8Array | string, id = 'raw-1'): RawMessage {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return {
    id,
    feed: 'test-feed',
    participant: 'test-hospital',
    format: 'hl7v2',
    receivedAt: new Date('2026-11-23T04:00:00Z'),
    body: bytes,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** Normalize one file of the Microsoft converter corpus by base name (e.g. `ADT-A01-01`). */
export function normalizeMs(name: string): Normalized {
  return hl7v2Normalizer.normalize(rawOf(readFileSync(corpus(`hl7v2-to-fhir/microsoft-fhir-converter/${name}.hl7`))));
}

/** Records of an ok result (throws when not ok, so a test fails loudly with the issues). */
export function recordsOf(n: Normalized): NormalizedRecord[] {
  if (!n.ok) throw new Error(`not ok: ${JSON.stringify(n.issues)}`);
  return n.records;
}

/** Every local reference inside a resource. */
export function localRefsIn(value: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.startsWith(LOCAL_REF_PREFIX)) out.push(v.slice(LOCAL_REF_PREFIX.length));
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return out;
}

/** The first record of a type (throws when absent). */
export function first(records: NormalizedRecord[], type: string): NormalizedRecord {
  const r = records.find((x) => x.resourceType === type);
  if (!r) throw new Error(`no ${type} record`);
  return r;
}

/**
 * Value at a dotted path (`code.coding.0.code`) of a resource, or undefined: lets tests read deep
 * FHIR JSON without casting to `any`.
 */
export function at(value: unknown, path: string): unknown {
  let v: unknown = value;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}
