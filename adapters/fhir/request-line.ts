import type { Identifier } from '../../gateway/core/types.js';
import { conditionOf } from './conditional.js';

/**
 * The request line a FHIR raw is stored with (RawMessage.request), written by the intake and read
 * back by the normalizer, here only: `POST` (a transaction to the base), `POST Type`,
 * `POST Type?identifier=s|v` (conditional create), `PUT Type/id[?_ifMatch=n]` (update).
 */

/** A record id in a path: FHIR's id rule, plus `_` for records stored before ids followed it. */
export const RECORD_ID = /^[A-Za-z0-9\-._]{1,64}$/;

/** `Type/id`, the url of an update. */
export const UPDATE_PATH = /^([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-._]{1,64})$/;

/** The line of a create: conditional when an identifier is given. */
export function createLine(type: string, identifier: Identifier | undefined): string {
  return identifier === undefined ? `POST ${type}` : `POST ${type}?${new URLSearchParams({ identifier: `${identifier.system}|${identifier.value}` }).toString()}`;
}

/** The line of an update, with the version If-Match named. */
export function updateLine(type: string, id: string, ifMatch: number | undefined): string {
  return `PUT ${type}/${id}${ifMatch === undefined ? '' : `?_ifMatch=${ifMatch}`}`;
}

/** The condition of a stored create line. */
export function conditionOfLine(line: string | undefined): Identifier | undefined {
  if (line === undefined || !line.startsWith('POST ')) return undefined;
  const q = line.indexOf('?');
  if (q < 0) return undefined;
  const c = conditionOf(line.slice(q + 1));
  return c.ok ? c.identifier : undefined;
}

/** The record a stored update line names, when it names one of `type`. */
export function updateOfLine(line: string | undefined, type: string): { id: string; ifVersion?: number } | undefined {
  const m = /^PUT ([^/?]+\/[^/?]+)(?:\?_ifMatch=(\d{1,9}))?$/.exec(line ?? '');
  const path = m ? UPDATE_PATH.exec(m[1]!) : null;
  if (!m || !path || path[1] !== type) return undefined;
  return { id: path[2]!, ...(m[2] === undefined ? {} : { ifVersion: Number(m[2]) }) };
}
