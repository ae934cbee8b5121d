import { GatewayError } from '../../protocol/errors.js';
import type { FhirResource } from '../core/types.js';

/**
 * The search parameters that narrow what an index found: `code`, `status` and `date` (FHIR
 * search.html token and date rules, on the elements most types carry them in). They run on the
 * candidates after the index lookup, so they make a search narrower, never faster.
 */
export type ResourceFilter = (resource: FhirResource) => boolean;

/** Where a resource keeps the date `date` searches on, first present wins. */
const DATE_PATHS = [
  'effectiveDateTime', 'effectivePeriod.start', 'effectiveInstant', 'issued', 'period.start', 'occurrenceDateTime', 'performedDateTime',
  'performedPeriod.start', 'authoredOn', 'recordedDate', 'onsetDateTime', 'date', 'created', 'start',
];

type Range = readonly [number, number];

/**
 * The filters of a query, combined (all must hold); undefined when it has none.
 * @param values - the query's parameters, each given once
 */
export function parseFilters(values: ReadonlyMap<string, string>): ResourceFilter | undefined {
  const filters: ResourceFilter[] = [];
  const code = values.get('code');
  if (code !== undefined) filters.push(codeFilter(code));
  const status = values.get('status');
  if (status !== undefined) {
    const wanted = new Set(status.split(','));
    filters.push((r) => typeof r.status === 'string' && wanted.has(r.status));
  }
  const date = values.get('date');
  if (date !== undefined) filters.push(dateFilter(date));
  return filters.length === 0 ? undefined : (r) => filters.every((f) => f(r));
}

/** `code=[system]|code`, `code=code` (any system) or `code=|code` (no system); commas mean any of them. */
function codeFilter(value: string): ResourceFilter {
  const tokens = value.split(',').map((t) => {
    const bar = t.indexOf('|');
    if (bar < 0) return { code: t };
    return { system: t.slice(0, bar), code: t.slice(bar + 1) };
  });
  if (tokens.some((t) => t.code === '')) throw new GatewayError('PSL_BAD_REQUEST', 'code must be [system|]code');
  return (r) => {
    const codings = (r.code as { coding?: Array<{ system?: string; code?: string }> } | undefined)?.coding ?? [];
    return codings.some((c) => tokens.some((t) => t.code === c.code && (t.system === undefined || (t.system === '' ? c.system === undefined : t.system === c.system))));
  };
}

/** `date=[eq|ne|lt|le|gt|ge]<date or dateTime>`, compared as ranges at each side's precision. */
function dateFilter(value: string): ResourceFilter {
  const m = /^(eq|ne|lt|le|gt|ge)?(.+)$/.exec(value);
  const wanted = m ? rangeOf(m[2]!) : undefined;
  if (!m || !wanted) throw new GatewayError('PSL_BAD_REQUEST', 'date must be [eq|ne|lt|le|gt|ge]YYYY[-MM[-DD[Thh:mm[:ss]±hh:mm]]]');
  const prefix = m[1] ?? 'eq';
  return (r) => {
    const raw = DATE_PATHS.map((p) => valueAt(r, p)).find((v): v is string => typeof v === 'string');
    const have = raw === undefined ? undefined : rangeOf(raw);
    if (!have) return false;
    switch (prefix) {
      case 'eq': return have[0] >= wanted[0] && have[1] <= wanted[1];
      case 'ne': return !(have[0] >= wanted[0] && have[1] <= wanted[1]);
      case 'lt': return have[0] < wanted[0];
      case 'le': return have[0] < wanted[1];
      case 'gt': return have[1] > wanted[1];
      default: return have[1] > wanted[0];
    }
  };
}

/**
 * The instants a FHIR date or dateTime covers, [start, end) in epoch ms: `2026` is the year,
 * `2026-11-30` the day (in UTC when it has no offset), a dateTime its second.
 */
export function rangeOf(value: string): Range | undefined {
  const d = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(value);
  if (d) {
    const y = Number(d[1]);
    if (d[2] === undefined) return [Date.UTC(y, 0, 1), Date.UTC(y + 1, 0, 1)];
    const mo = Number(d[2]) - 1;
    if (d[3] === undefined) return [Date.UTC(y, mo, 1), Date.UTC(y, mo + 1, 1)];
    const start = Date.UTC(y, mo, Number(d[3]));
    return [start, start + 86_400_000];
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return undefined;
  const start = Date.parse(value);
  if (Number.isNaN(start)) return undefined;
  const hasSeconds = /T\d{2}:\d{2}:\d{2}/.test(value);
  return [start, start + (hasSeconds ? 1000 : 60_000)];
}

function valueAt(resource: FhirResource, path: string): unknown {
  let v: unknown = resource;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}
