import { OperationOutcomeError, isResourceType, validateResource } from '@medplum/core';
import { ISSUE_CODES, type Issue, type IssueCode } from '../../gateway/core/issues.js';
import { loadR4StructureDefinitions } from './definitions.js';
import { ElementChecks, type CheckContext } from './element-checks.js';
import { RequiredValueSets } from './required-bindings.js';
import { isObject } from './json-text.js';

/**
 * Library findings that {@link ElementChecks} decides instead: `@medplum/core` only warns about
 * them, and reads an absolute-URL reference as a reference to a resource type named "http:".
 */
const REPLACED_WARNINGS = [/^Invalid reference: /, /^Conflicting choice of type properties/];
/**
 * Library errors that are not R4 rules: R4's string pattern `[ \r\n\t\S]+` admits a string of
 * whitespace (the empty string, which it does not admit, is ElementChecks' finding).
 */
const NOT_R4_ERRORS = [/^String must contain non-whitespace content$/];

/**
 * FHIR R4 validation of one resource against the official definitions: `@medplum/core`'s
 * validator (structure, cardinality, primitive formats, unknown elements, FHIRPath invariants), and
 * {@link ElementChecks} for what it lets through (required bindings, reference targets, two types
 * of one choice, ids, empty values). Errors refuse the resource; warnings are kept on its outcome.
 */
export class R4Validator {
  readonly #checks: ElementChecks;

  private constructor(checks: ElementChecks) {
    this.#checks = checks;
  }

  static #loaded: R4Validator | undefined;

  /**
   * Loads the definitions once per thread (synchronous, about a second); later calls, such as a
   * gateway restarted in the same process, get the same validator: the definitions do not change.
   */
  static load(): R4Validator {
    if (!R4Validator.#loaded) {
      loadR4StructureDefinitions();
      R4Validator.#loaded = new R4Validator(new ElementChecks(RequiredValueSets.load()));
    }
    return R4Validator.#loaded;
  }

  /**
   * Every issue of `resource`, errors first. `where` is a FHIRPath-like path (`Patient.name[0]`),
   * messages name rules, never values.
   * @param resource - parsed JSON
   * @param context - what references may be, where the resource sits
   */
  validate(resource: unknown, context: CheckContext = { inBundle: false, conditionalRefs: false }): Issue[] {
    if (!isObject(resource)) return [{ severity: 'error', code: 'structure', where: 'body', message: 'a FHIR resource is a JSON object' }];
    const type = resource.resourceType;
    if (typeof type !== 'string') return [{ severity: 'error', code: 'required', where: 'resourceType', message: 'resourceType is missing' }];
    if (!isResourceType(type)) return [{ severity: 'error', code: 'not-supported', where: 'resourceType', message: 'resourceType names no FHIR R4 resource type' }];
    const ours = this.#checks.check(resource, context);
    const theirs = libraryIssues(resource as unknown as LibraryResource);
    const at = new Set(ours.map((i) => i.where));
    // One issue per location and kind: both checks see an empty string, for example.
    const merged = [...ours, ...theirs.filter((i) => !(at.has(i.where) && i.severity === 'error'))];
    return [...merged.filter((i) => i.severity === 'error' || i.severity === 'fatal'), ...merged.filter((i) => i.severity !== 'error' && i.severity !== 'fatal')];
  }
}

type LibraryResource = Parameters<typeof validateResource>[0];

function libraryIssues(resource: LibraryResource): Issue[] {
  let raw: Array<{ severity?: string; code?: string; details?: { text?: string }; expression?: string[] }>;
  try {
    raw = validateResource(resource);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
    raw = err.outcome.issue ?? [];
  }
  return raw.flatMap((i) => {
    const message = i.details?.text ?? 'does not conform to the R4 definition';
    if (i.severity === 'warning' && REPLACED_WARNINGS.some((r) => r.test(message))) return [];
    if (i.severity === 'error' && NOT_R4_ERRORS.some((r) => r.test(message))) return [];
    return [{
      severity: i.severity === 'warning' ? 'warning' : i.severity === 'information' ? 'information' : 'error',
      code: ISSUE_CODES.includes(i.code as IssueCode) ? (i.code as IssueCode) : 'structure',
      message,
      ...(i.expression?.[0] ? { where: i.expression[0] } : {}),
    } satisfies Issue];
  });
}
