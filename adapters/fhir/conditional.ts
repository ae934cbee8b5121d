import type { Issue } from '../../gateway/core/issues.js';
import type { Identifier } from '../../gateway/core/types.js';

/** `If-None-Exist` read: no condition, an identifier condition, or why it cannot be honoured. */
export type Condition = { ok: true; identifier?: Identifier } | { ok: false; issue: Issue };

/**
 * The conditional-create header (FHIR http.html#ccreate). Only `identifier=system|value` is
 * supported: it is what a unique store key can make race-free; any other search is refused
 * rather than run as a plain create.
 * @param header - the `If-None-Exist` value, a query string without `?`
 */
export function conditionOf(header: string | undefined): Condition {
  if (header === undefined || header.trim() === '') return { ok: true };
  const params = new URLSearchParams(header.trim().replace(/^\?/, ''));
  const names = [...new Set(params.keys())];
  const values = params.getAll('identifier');
  if (names.length !== 1 || names[0] !== 'identifier' || values.length !== 1) {
    return { ok: false, issue: { severity: 'error', code: 'not-supported', where: 'If-None-Exist', message: 'only one identifier=system|value condition is supported' } };
  }
  const value = values[0]!;
  const bar = value.indexOf('|');
  if (bar <= 0 || bar === value.length - 1) {
    return { ok: false, issue: { severity: 'error', code: 'value', where: 'If-None-Exist', message: 'the identifier condition is system|value, both given' } };
  }
  return { ok: true, identifier: { system: value.slice(0, bar), value: value.slice(bar + 1) } };
}
