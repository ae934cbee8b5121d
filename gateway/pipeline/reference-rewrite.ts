import { LOCAL_REF_PREFIX } from '../core/ports.js';
import type { FhirResource } from '../core/types.js';

/**
 * Resolves a localRef to its FHIR reference (`Patient/rec_…`), or undefined when no record of the
 * message has been stored under that localRef yet.
 */
export type LocalRefResolver = (localRef: string) => string | undefined;

/** The rewritten resource, plus the localRefs that could not be resolved (their `reference` was removed). */
export interface RewriteResult {
  resource: FhirResource;
  /** Unresolved localRefs, in document order, without duplicates. */
  unresolved: string[];
}

/** The localRef inside `urn:passerelle:local:<localRef>`, or undefined for any other string. */
export function localRefOf(reference: unknown): string | undefined {
  if (typeof reference !== 'string' || !reference.startsWith(LOCAL_REF_PREFIX)) return undefined;
  const ref = reference.slice(LOCAL_REF_PREFIX.length);
  return ref.length > 0 ? ref : undefined;
}

/**
 * Rewrites every `{ reference: 'urn:passerelle:local:<localRef>' }` anywhere in the resource to the
 * resolver's answer. Pure: the input is never mutated; objects without local references are shared,
 * not copied, so the common case (a leaf resource) costs one walk and no allocation.
 *
 * An unresolved reference loses its `reference` property (other Reference fields such as `display`
 * stay), because a stored record must never point at a URN nobody can resolve; the caller reports it.
 * @param resource - FHIR JSON as a normalizer produced it
 * @param resolve - localRef → `Type/id`
 */
export function rewriteLocalReferences(resource: FhirResource, resolve: LocalRefResolver): RewriteResult {
  const unresolved: string[] = [];
  const out = walk(resource, resolve, unresolved) as FhirResource;
  return { resource: out, unresolved: [...new Set(unresolved)] };
}

function walk(value: unknown, resolve: LocalRefResolver, unresolved: string[]): unknown {
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = walk(value[i], resolve, unresolved);
      if (next !== value[i]) {
        copy ??= value.slice();
        copy[i] = next;
      }
    }
    return copy ?? value;
  }
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (key === 'reference') {
      const localRef = localRefOf(v);
      if (localRef === undefined) continue;
      copy ??= { ...obj };
      const target = resolve(localRef);
      if (target === undefined) {
        unresolved.push(localRef);
        delete copy.reference;
      } else {
        copy.reference = target;
      }
      continue;
    }
    const next = walk(v, resolve, unresolved);
    if (next !== v) {
      copy ??= { ...obj };
      copy[key] = next;
    }
  }
  return copy ?? obj;
}

/**
 * Every localRef a resource refers to, in document order, without duplicates. Lets a caller check
 * ordering (targets before referrers) without storing anything.
 */
export function localReferencesIn(resource: FhirResource): string[] {
  const found: string[] = [];
  rewriteLocalReferences(resource, (ref) => {
    found.push(ref);
    return ref;
  });
  return [...new Set(found)];
}
