import type { Store } from '../core/ports.js';
import type { CanonicalRecord } from '../core/types.js';

/** Most versions one history Bundle lists (newest first); `_count` lowers it. */
export const HISTORY_MAX = 1000;

/**
 * Every version of one record, newest first, at most `count`: what `GET …/{id}/_history` lists.
 * @param latest - the record's latest version (already checked visible to the caller)
 */
export async function versionsOf(store: Pick<Store, 'getRecord'>, latest: CanonicalRecord, count: number): Promise<CanonicalRecord[]> {
  const out = [latest];
  for (let v = latest.version - 1; v >= 1 && out.length < count; v--) {
    const older = await store.getRecord(latest.id, v);
    if (older) out.push(older);
  }
  return out;
}

/**
 * A FHIR `history` Bundle (http.html#history): each version with how it came to be (`POST` for
 * the first, `PUT` after) and its version tag.
 * @param base - absolute FHIR base URL
 */
export function historyBundle(base: string, latest: CanonicalRecord, versions: readonly CanonicalRecord[]): object {
  const path = `${latest.resourceType}/${latest.id}`;
  return {
    resourceType: 'Bundle',
    type: 'history',
    total: latest.version,
    link: [{ relation: 'self', url: `${base}/${path}/_history` }],
    entry: versions.map((r) => ({
      fullUrl: `${base}/${path}`,
      resource: r.resource,
      request: { method: r.version === 1 ? 'POST' : 'PUT', url: r.version === 1 ? latest.resourceType : path },
      response: { status: r.version === 1 ? '201 Created' : '200 OK', etag: `W/"${r.version}"`, lastModified: r.lastUpdated },
    })),
  };
}
