import { getDataType, isResourceType, tryGetDataType, type InternalSchemaElement, type InternalTypeSchema } from '@medplum/core';
import type { Issue } from '../../gateway/core/issues.js';
import { codeProblem } from '../../gateway/terminology/coding-check.js';
import { inValueSet, type RequiredValueSets } from './required-bindings.js';
import { isObject } from './json-text.js';

/** FHIR R4 `id`: 1 to 64 of A-Z a-z 0-9 - . */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
/** A relative literal reference, `Type/id` with an optional `/_history/vid`. */
const RELATIVE_REF = /^([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
/** The `Type/id` tail of an absolute RESTful reference. */
const ABSOLUTE_REF_TAIL = /\/([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** What a reference may be besides a literal `Type/id` in the place it appears. */
export interface CheckContext {
  /** Inside a Bundle: `urn:uuid:` / `urn:oid:` references to entries (resolved by the bundle check). */
  inBundle: boolean;
  /** Conditional references (`Patient?identifier=…`, transactions only) will be resolved: allow them. */
  conditionalRefs: boolean;
}

interface Slot { element: InternalSchemaElement; type: string; choice?: string }

/**
 * The checks `@medplum/core`'s validator leaves out or only warns about, in one walk over the
 * resource along the R4 type definitions:
 * - empty values: `""`, `[]`, `{}` (FHIR JSON forbids them; a string of spaces is a valid R4
 *   string, which the library refuses);
 * - two types of one choice element at once (`valueString` and `valueQuantity`);
 * - resource ids against the id rule;
 * - references: their form, and that the target type is one the element allows (absolute URLs
 *   are read by their `Type/id` tail, never refused for being absolute);
 * - required bindings, for the value sets {@link RequiredValueSets} can expand;
 * - LOINC, SNOMED CT, ICD-10, CCAM codes and INS values that are not well-formed (warnings).
 * Issues name the path and the rule, never the value.
 */
export class ElementChecks {
  readonly #slots = new WeakMap<InternalTypeSchema, Map<string, Slot | null>>();
  readonly #valueSets: RequiredValueSets;

  constructor(valueSets: RequiredValueSets) {
    this.#valueSets = valueSets;
  }

  /** Issues of one resource (contained and bundled resources are walked too). */
  check(resource: Record<string, unknown>, context: CheckContext): Issue[] {
    const out: Issue[] = [];
    const type = resource.resourceType;
    if (typeof type === 'string' && isResourceType(type)) this.#resource(resource, type, type, context, out);
    return out;
  }

  #resource(resource: Record<string, unknown>, type: string, path: string, context: CheckContext, out: Issue[]): void {
    const id = resource.id;
    if (id !== undefined && (typeof id !== 'string' || !FHIR_ID.test(id))) {
      out.push({ severity: 'error', code: 'value', where: `${path}.id`, message: 'a resource id is 1 to 64 letters, digits, "-" or "."' });
    }
    if (type === 'Bundle') this.#fullUrls(resource, path, out);
    // Entries of a Bundle may point at each other by fullUrl.
    const inner = type === 'Bundle' ? { ...context, inBundle: true } : context;
    this.#object(resource, getDataType(type), path, inner, out);
  }

  /** Bundle.entry.fullUrl is absolute (R4: an absolute URL, or a urn:uuid: / urn:oid:). */
  #fullUrls(bundle: Record<string, unknown>, path: string, out: Issue[]): void {
    if (!Array.isArray(bundle.entry)) return;
    bundle.entry.forEach((e: unknown, i) => {
      const fullUrl = isObject(e) ? e.fullUrl : undefined;
      if (typeof fullUrl === 'string' && fullUrl !== '' && !/^[a-z][a-z0-9+.-]*:/i.test(fullUrl)) {
        out.push({ severity: 'error', code: 'value', where: `${path}.entry[${i}].fullUrl`, message: 'a fullUrl is an absolute URL or a urn:uuid: / urn:oid:, never relative' });
      }
    });
  }

  #object(obj: Record<string, unknown>, schema: InternalTypeSchema, path: string, context: CheckContext, out: Issue[]): void {
    const keys = Object.keys(obj);
    if (keys.length === 0) {
      out.push({ severity: 'error', code: 'structure', where: path, message: 'an element has a value or children; an empty object is not allowed' });
      return;
    }
    const choices = new Map<string, string>();
    for (const key of keys) {
      if (key === 'resourceType') continue;
      const extension = key.startsWith('_');
      const slot = this.#slot(schema, extension ? key.slice(1) : key);
      if (!slot) continue; // an unknown property: the library's check reports it
      const value = obj[key];
      const where = `${path}.${key}`;
      if (slot.choice !== undefined && !extension) {
        const other = choices.get(slot.choice);
        if (other !== undefined) out.push({ severity: 'error', code: 'structure', where, message: `${slot.choice} takes one type; ${other} is given too` });
        choices.set(slot.choice, key);
      }
      if (Array.isArray(value)) {
        if (value.length === 0) out.push({ severity: 'error', code: 'structure', where, message: 'an empty array is not allowed; leave the property out' });
        value.forEach((v, i) => this.#value(v, slot, `${where}[${i}]`, extension, context, out));
      } else {
        this.#value(value, slot, where, extension, context, out);
      }
    }
  }

  #value(value: unknown, slot: Slot, where: string, extension: boolean, context: CheckContext, out: Issue[]): void {
    if (value === null || value === undefined) return; // the library reports nulls
    if (extension) {
      if (isObject(value)) this.#object(value, getDataType('Element'), where, context, out);
      return;
    }
    if (value === '') {
      out.push({ severity: 'error', code: 'value', where, message: 'an empty string is not allowed; leave the property out' });
      return;
    }
    const binding = slot.element.binding;
    if (binding?.strength === 'required' && binding.valueSet) this.#binding(value, slot.type, binding.valueSet, where, out);
    if (!isObject(value)) return;
    if (slot.type === 'Resource' || slot.type === 'DomainResource') {
      const type = value.resourceType;
      if (typeof type === 'string' && isResourceType(type)) this.#resource(value, type, where, context, out);
      return;
    }
    if (slot.type === 'Reference') this.#reference(value, slot.element, where, context, out);
    if (slot.type === 'Coding' || slot.type === 'Identifier') this.#wellFormed(value, slot.type, where, out);
    const schema = tryGetDataType(slot.type);
    if (schema) this.#object(value, schema, where, context, out);
  }

  #reference(ref: Record<string, unknown>, element: InternalSchemaElement, where: string, context: CheckContext, out: Issue[]): void {
    const reference = ref.reference;
    if (typeof reference !== 'string' || reference.trim() === '' || reference.startsWith('#')) return;
    let type: string | undefined;
    const relative = RELATIVE_REF.exec(reference);
    if (relative) type = relative[1];
    else if (/^urn:(uuid|oid):/.test(reference)) {
      if (!context.inBundle) out.push({ severity: 'error', code: 'value', where: `${where}.reference`, message: 'a urn: reference points into a Bundle; outside one it resolves to nothing' });
      return;
    } else if (/^[A-Z][A-Za-z]{1,63}\?/.test(reference)) {
      if (!context.conditionalRefs) out.push({ severity: 'error', code: 'not-supported', where: `${where}.reference`, message: 'a conditional reference (Type?search) is not resolved here; refer to the entry by its fullUrl' });
      type = reference.slice(0, reference.indexOf('?'));
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(reference)) {
      type = ABSOLUTE_REF_TAIL.exec(reference)?.[1];
    } else {
      out.push({ severity: 'error', code: 'value', where: `${where}.reference`, message: 'a reference is Type/id, an absolute URL, #contained or (in a Bundle) urn:uuid:' });
      return;
    }
    const allowed = targetTypes(element);
    if (type === undefined || allowed === undefined || allowed.includes(type)) return;
    out.push({ severity: 'error', code: 'structure', where: `${where}.reference`, message: `a ${type} reference where ${element.path} allows ${allowed.join(', ')}` });
  }

  /**
   * LOINC, SNOMED CT, ICD-10, CCAM codes and INS identifiers that are not well-formed: a warning
   * (the resource is kept; a feed can be told to require a system later), never a refusal.
   */
  #wellFormed(value: Record<string, unknown>, type: 'Coding' | 'Identifier', where: string, out: Issue[]): void {
    const code = type === 'Coding' ? value.code : value.value;
    if (typeof value.system !== 'string' || typeof code !== 'string') return;
    const problem = codeProblem(value.system, code);
    if (problem) out.push({ severity: 'warning', code: 'code-invalid', where: `${where}.${type === 'Coding' ? 'code' : 'value'}`, message: problem });
  }

  #binding(value: unknown, type: string, valueSet: string, where: string, out: Issue[]): void {
    const codes = this.#valueSets.codes(valueSet);
    if (!codes) return;
    const url = valueSet.split('|')[0];
    const bad = (at: string): void => {
      out.push({ severity: 'error', code: 'code-invalid', where: at, message: `not a code of the required value set ${url}` });
    };
    if (typeof value === 'string') {
      if (!inValueSet(codes, undefined, value)) bad(where);
      return;
    }
    if (!isObject(value)) return;
    if (type === 'Coding') {
      if (typeof value.code === 'string' && !inValueSet(codes, stringOr(value.system), value.code)) bad(`${where}.code`);
      return;
    }
    if (type !== 'CodeableConcept' || !Array.isArray(value.coding)) return;
    const codings = value.coding.filter(isObject).filter((c) => typeof c.code === 'string');
    if (codings.length > 0 && !codings.some((c) => inValueSet(codes, stringOr(c.system), c.code as string))) bad(`${where}.coding`);
  }

  #slot(schema: InternalTypeSchema, name: string): Slot | undefined {
    let slots = this.#slots.get(schema);
    if (!slots) {
      slots = new Map();
      this.#slots.set(schema, slots);
    }
    let slot = slots.get(name);
    if (slot === undefined) {
      slot = findSlot(schema, name) ?? null;
      slots.set(name, slot);
    }
    return slot ?? undefined;
  }
}

function findSlot(schema: InternalTypeSchema, name: string): Slot | undefined {
  const direct = schema.elements[name];
  if (direct && direct.type.length === 1 && direct.type[0]) return { element: direct, type: direct.type[0].code };
  for (const [key, element] of Object.entries(schema.elements)) {
    if (!key.endsWith('[x]')) continue;
    const base = key.slice(0, -3);
    if (!name.startsWith(base)) continue;
    const suffix = name.slice(base.length);
    const t = element.type.find((x) => x.code.charAt(0).toUpperCase() + x.code.slice(1) === suffix);
    if (t) return { element, type: t.code, choice: key };
  }
  return undefined;
}

/** Resource types a Reference element may point to; undefined when any. */
function targetTypes(element: InternalSchemaElement): string[] | undefined {
  const profiles = element.type.flatMap((t) => t.targetProfile ?? []);
  const types = profiles.map((p) => p.slice(p.lastIndexOf('/') + 1));
  return types.length === 0 || types.includes('Resource') ? undefined : types;
}


function stringOr(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
