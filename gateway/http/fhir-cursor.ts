import { GatewayError } from '../../protocol/errors.js';
import type { CanonicalRecord } from '../core/types.js';

/**
 * Where a record sits in the one search order: lastUpdated (epoch ms), then id. Both stores index
 * by type in this order, and it is total (ids are unique), so a page boundary is never ambiguous.
 */
export interface SearchPosition {
  readonly updatedMs: number;
  readonly id: string;
}

/** The paging parameter's name: FHIR leaves it to the server. */
export const CURSOR_PARAM = '_cursor';

const DECODED = /^([0-9]{1,15})\.([A-Za-z0-9._-]{1,64})$/;
const ENCODED = /^[A-Za-z0-9_-]{1,128}$/;

/** The position of a record in the search order. */
export function positionOf(record: CanonicalRecord): SearchPosition {
  return { updatedMs: Date.parse(record.lastUpdated), id: record.id };
}

/** Negative when `a` comes first, 0 when equal, positive when `b` comes first. */
export function comparePositions(a: SearchPosition, b: SearchPosition): number {
  if (a.updatedMs !== b.updatedMs) return a.updatedMs - b.updatedMs;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The record order of every search result: oldest first, ties by id. */
export function compareRecords(a: CanonicalRecord, b: CanonicalRecord): number {
  return comparePositions(positionOf(a), positionOf(b));
}

/**
 * An opaque cursor meaning "the page after this position". It names only a record the caller was
 * shown (the last entry of its page), so it discloses nothing; a forged one can only skip records,
 * never reveal one, because visibility is checked on every page.
 */
export function encodeCursor(position: SearchPosition): string {
  return Buffer.from(`${position.updatedMs}.${position.id}`, 'utf8').toString('base64url');
}

/**
 * Reads a cursor made by {@link encodeCursor}; anything else is a 400 naming the parameter.
 * Re-encoding must give back the same text, so one position has exactly one cursor.
 */
export function decodeCursor(text: string): SearchPosition {
  const bad = (): GatewayError => new GatewayError('PSL_BAD_REQUEST', `${CURSOR_PARAM} is not a paging cursor from this server`);
  if (!ENCODED.test(text)) throw bad();
  const match = DECODED.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!match?.[1] || !match[2]) throw bad();
  const position = { updatedMs: Number(match[1]), id: match[2] };
  if (encodeCursor(position) !== text) throw bad();
  return position;
}
