import type { CanonicalRecord, FhirResource } from '../core/types.js';
import { CURSOR_PARAM, encodeCursor, type SearchPosition } from './fhir-cursor.js';
import type { SearchPage, SearchQuery } from './fhir-search.js';

/** The searchset Bundle the search route answers (FHIR R4 Bundle, type `searchset`). */
export interface SearchsetBundle {
  resourceType: 'Bundle';
  type: 'searchset';
  total: number;
  link: Array<{ relation: 'self' | 'next' | 'previous'; url: string }>;
  entry?: Array<{ fullUrl: string; resource: FhirResource; search: { mode: 'match' | 'include' } }>;
}

/**
 * One page as a searchset Bundle: `self`, plus `next` and `previous` when those pages exist. Links
 * repeat the caller's own parameters, so following `next` runs the same search one page further.
 * @param options.base - scheme, host and port every absolute URL starts with (no trailing slash)
 */
export function searchsetBundle(options: { base: string; type: string; query: SearchQuery; page: SearchPage; included?: readonly CanonicalRecord[] }): SearchsetBundle {
  const { base, type, query, page } = options;
  const url = (cursor: SearchPosition | undefined): string => {
    const params = new URLSearchParams(query.params.map(([k, v]): [string, string] => [k, v]));
    if (cursor) params.set(CURSOR_PARAM, encodeCursor(cursor));
    const qs = params.toString();
    return `${base}/fhir/r4/${type}${qs ? `?${qs}` : ''}`;
  };
  const link: SearchsetBundle['link'] = [{ relation: 'self', url: url(query.after) }];
  if (page.next) link.push({ relation: 'next', url: url(page.next) });
  if (page.previous) link.push({ relation: 'previous', url: url(page.previous === 'first' ? undefined : page.previous) });
  const bundle: SearchsetBundle = { resourceType: 'Bundle', type: 'searchset', total: page.total, link };
  if (query.countOnly) return bundle;
  const entry = (r: CanonicalRecord, mode: 'match' | 'include'): NonNullable<SearchsetBundle['entry']>[number] => ({ fullUrl: `${base}/fhir/r4/${r.resourceType}/${r.id}`, resource: r.resource, search: { mode } });
  bundle.entry = [...page.records.map((r) => entry(r, 'match')), ...(options.included ?? []).map((r) => entry(r, 'include'))];
  return bundle;
}
