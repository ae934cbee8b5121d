import { GatewayError } from '../../protocol/errors.js';
import type { Store } from '../core/ports.js';
import type { CanonicalRecord, Identifier } from '../core/types.js';
import { comparePositions, compareRecords, CURSOR_PARAM, decodeCursor, positionOf, type SearchPosition } from './fhir-cursor.js';
import { parseFilters, type ResourceFilter } from './fhir-filters.js';

/** `_count` when the caller gives none, and the most it may ask for (the values this route always had). */
export const SEARCH_COUNT = { default: 100, max: 1000 } as const;

/** How many records one store call reads while scanning a type: bounds memory, not results. */
const SCAN_BATCH = 500;

const KNOWN = new Set(['identifier', 'patient', 'subject', 'code', 'status', 'date', '_lastUpdated', '_count', '_summary', '_include', CURSOR_PARAM]);

/** A validated search request for one resource type. */
export interface SearchQuery {
  /** Which store index answers: identifier wins over patient, patient over a scan of the type. */
  readonly match: { kind: 'identifier'; identifier: Identifier } | { kind: 'patient'; patientId: string } | { kind: 'type' };
  /** `_lastUpdated=ge…`, epoch ms, inclusive. */
  readonly sinceMs?: number;
  readonly count: number;
  /** Results strictly after this position (from `_cursor`). */
  readonly after?: SearchPosition;
  /** `_summary=count`: total only, no entries. */
  readonly countOnly: boolean;
  /** `code`, `status`, `date`: what a candidate must also satisfy. */
  readonly filter?: ResourceFilter;
  /** `_include=<Type>:patient` (or `:subject`): the page's Patients come along (search mode `include`). */
  readonly include?: { sourceType: string };
  /** Every parameter but the cursor, in request order: the base of the paging links. */
  readonly params: ReadonlyArray<readonly [string, string]>;
}

/**
 * Checks the query string of `GET /fhir/r4/{type}`. Every problem is a 400 naming the parameter,
 * never its value, and is found before any store access.
 * @param query - hapi's parsed query (a repeated parameter arrives as an array)
 */
export function parseSearchQuery(query: Record<string, unknown>): SearchQuery {
  const unknown = Object.keys(query).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) throw new GatewayError('PSL_BAD_REQUEST', `unsupported search parameter: ${unknown.join(', ')}`);
  const params: Array<[string, string]> = [];
  const values = new Map<string, string>();
  for (const [name, v] of Object.entries(query)) {
    if (typeof v !== 'string' || v.length === 0) throw new GatewayError('PSL_BAD_REQUEST', `${name} must be given once`);
    // Bounded before any store lookup: an over-long value is a bad request, not a store failure.
    if (v.length > 512) throw new GatewayError('PSL_BAD_REQUEST', `${name} must be at most 512 characters`);
    values.set(name, v);
    if (name !== CURSOR_PARAM) params.push([name, v]);
  }
  const count = values.has('_count') ? Number(values.get('_count')) : SEARCH_COUNT.default;
  if (!Number.isInteger(count) || count < 1 || count > SEARCH_COUNT.max) throw new GatewayError('PSL_BAD_REQUEST', `_count must be 1..${SEARCH_COUNT.max}`);
  const summary = values.get('_summary');
  if (summary !== undefined && summary !== 'count') throw new GatewayError('PSL_BAD_REQUEST', '_summary supports only count');
  const cursor = values.get(CURSOR_PARAM);
  const lastUpdated = values.get('_lastUpdated');
  const sinceMs = lastUpdated === undefined ? undefined : parseSince(lastUpdated);
  const filter = parseFilters(values);
  const include = values.get('_include');
  const included = include === undefined ? undefined : /^([A-Z][A-Za-z]{1,63}):(patient|subject)$/.exec(include);
  if (include !== undefined && !included) throw new GatewayError('PSL_BAD_REQUEST', '_include supports <Type>:patient and <Type>:subject');
  return {
    match: parseMatch(values), count, countOnly: summary === 'count', params,
    ...(filter ? { filter } : {}),
    ...(included ? { include: { sourceType: included[1]! } } : {}),
    ...(sinceMs === undefined ? {} : { sinceMs }),
    ...(cursor === undefined ? {} : { after: decodeCursor(cursor) }),
  };
}

function parseSince(value: string): number {
  const since = /^ge(.+)$/.exec(value)?.[1];
  const ms = since === undefined ? NaN : Date.parse(since);
  if (Number.isNaN(ms)) throw new GatewayError('PSL_BAD_REQUEST', '_lastUpdated must be ge<instant>');
  return ms;
}

function parseMatch(values: ReadonlyMap<string, string>): SearchQuery['match'] {
  const identifier = values.get('identifier');
  if (identifier !== undefined) {
    const bar = identifier.indexOf('|');
    if (bar <= 0 || bar === identifier.length - 1) throw new GatewayError('PSL_BAD_REQUEST', 'identifier must be system|value');
    return { kind: 'identifier', identifier: { system: identifier.slice(0, bar), value: identifier.slice(bar + 1) } };
  }
  const patient = values.get('patient') ?? values.get('subject');
  if (patient !== undefined) return { kind: 'patient', patientId: patient.replace(/^Patient\//, '') };
  return { kind: 'type' };
}

/** One page of the records the caller may read, and where its neighbours start. */
export interface SearchPage {
  /** Every matching record the caller may read, across all pages. */
  readonly total: number;
  readonly records: readonly CanonicalRecord[];
  /** The cursor position of the next page, when more visible records follow. */
  readonly next?: SearchPosition;
  /** The previous page: `'first'` when it is the first page (no cursor), absent on the first page. */
  readonly previous?: SearchPosition | 'first';
}

/**
 * Runs a search, filtering by visibility BEFORE counting and paging: `total`, the page and the
 * links are computed over readable records only, so they disclose nothing about other
 * participants' records. Counting needs every candidate, so a type search streams the type index
 * in batches and keeps only the page in memory.
 * @param canRead - the caller's visibility rule (see access.ts)
 */
export async function searchVisible(store: Store, type: string, query: SearchQuery, canRead: (r: CanonicalRecord) => boolean): Promise<SearchPage> {
  let total = 0;
  const page: CanonicalRecord[] = [];
  let more = false;
  // Visible positions up to the cursor; only the last count+1 matter (the previous page and its cursor).
  let before: SearchPosition[] = [];
  for await (const record of candidates(store, type, query)) {
    if (record.resourceType !== type || !canRead(record)) continue;
    if (query.sinceMs !== undefined && Date.parse(record.lastUpdated) < query.sinceMs) continue;
    if (query.filter && !query.filter(record.resource)) continue;
    total += 1;
    if (query.countOnly) continue;
    const at = positionOf(record);
    if (query.after && comparePositions(at, query.after) <= 0) {
      before.push(at);
      if (before.length > 2 * (query.count + 1)) before = before.slice(-(query.count + 1));
      continue;
    }
    if (page.length < query.count) page.push(record);
    else more = true;
  }
  const last = page[page.length - 1];
  const previousFrom = before.length > query.count ? before[before.length - query.count - 1] : undefined;
  return {
    total, records: page,
    ...(more && last ? { next: positionOf(last) } : {}),
    ...(before.length === 0 ? {} : { previous: previousFrom ?? 'first' }),
  };
}

/** Candidate records in search order (oldest lastUpdated first, ties by id), not yet filtered. */
async function* candidates(store: Store, type: string, query: SearchQuery): AsyncGenerator<CanonicalRecord> {
  const { match } = query;
  if (match.kind === 'type') {
    yield* scanType(store, type, query.sinceMs);
    return;
  }
  // One identifier or one patient: a small set, read whole and put in search order.
  const found = match.kind === 'identifier'
    ? await store.findByIdentifier(match.identifier, type)
    : await store.findByPatient(match.patientId, type);
  yield* [...found].sort(compareRecords);
}

/**
 * The type index in batches. `since` is inclusive, so each batch restarts at the last instant seen
 * and skips the ids already yielded at that instant; a batch holding nothing new (more records in
 * one millisecond than the batch size) is read again with twice the size.
 */
async function* scanType(store: Store, type: string, sinceMs: number | undefined): AsyncGenerator<CanonicalRecord> {
  let fromMs = sinceMs;
  let limit = SCAN_BATCH;
  let atBoundary = new Set<string>();
  for (;;) {
    const batch = await store.findByType(type, { ...(fromMs === undefined ? {} : { since: new Date(fromMs).toISOString() }), limit });
    let fresh = 0;
    for (const record of batch) {
      if (Date.parse(record.lastUpdated) === fromMs && atBoundary.has(record.id)) continue;
      fresh += 1;
      yield record;
    }
    const last = batch[batch.length - 1];
    if (batch.length < limit || !last) return;
    if (fresh === 0) {
      limit *= 2;
      continue;
    }
    const lastMs = Date.parse(last.lastUpdated);
    if (lastMs !== fromMs) {
      atBoundary = new Set();
      limit = SCAN_BATCH;
    }
    for (const record of batch) if (Date.parse(record.lastUpdated) === lastMs) atBoundary.add(record.id);
    fromMs = lastMs;
  }
}
