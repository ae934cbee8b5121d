/**
 * Our side of the fidelity comparison: the normalizer run in process on a raw built like a feed
 * would, then local references resolved the way the worker resolves them (same rewrite module),
 * with `Type/<localRef>` standing in for the canonical id the store would assign.
 */
import type { Normalized, Normalizer } from '../../../gateway/core/ports.js';
import type { FhirResource } from '../../../gateway/core/types.js';
import type { Issue } from '../../../gateway/core/issues.js';
import { rewriteLocalReferences } from '../../../gateway/pipeline/reference-rewrite.js';
import { makeRaw } from '../../contract/store.conformance.js';
import type { Side } from './compare.js';

/** Our records for one message, resolved, plus what the normalizer said. */
export interface OurSide extends Side {
  ok: boolean;
  issues: Issue[];
  /** Local references that pointed at no earlier record (the worker would drop and report them). */
  unresolved: number;
}

/**
 * Normalizes bytes in process and resolves local references in order.
 * @param normalizer - the normalizer under test
 * @param body - message bytes as the feed would deliver them
 */
export function normalizeInProcess(normalizer: Normalizer, body: Uint8Array): OurSide {
  let result: Normalized;
  try {
    result = normalizer.normalize(makeRaw({ feed: 'fidelity', body }));
  } catch (err) {
    const name = err instanceof Error ? err.name : 'Error';
    result = { ok: false, issues: [{ severity: 'fatal', code: 'exception', message: `normalizer threw ${name}` }] };
  }
  const byRef = new Map<string, FhirResource>();
  const targets = new Map<string, string>();
  const resources: FhirResource[] = [];
  let unresolved = 0;
  if (result.ok) {
    for (const record of result.records) {
      const rewritten = rewriteLocalReferences(record.resource, (ref) => targets.get(ref));
      unresolved += rewritten.unresolved.length;
      const ref = `${record.resourceType}/${record.localRef}`;
      if (!targets.has(record.localRef)) targets.set(record.localRef, ref);
      byRef.set(ref, rewritten.resource);
      resources.push(rewritten.resource);
    }
  }
  return { ok: result.ok, issues: result.issues, resources, unresolved, lookup: (r) => byRef.get(r) };
}
