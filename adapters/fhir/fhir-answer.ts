import type { CanonicalRecord } from '../../gateway/core/types.js';
import type { BundleGraph } from './bundle-graph.js';

/** The FHIR media type, the only one the FHIR routes read and write. */
export const FHIR_JSON = 'application/fhir+json';

/** What an HTTP reply to a FHIR interaction carries, before hapi writes it. */
export interface FhirReply {
  status: number;
  body: object | undefined;
  headers: Record<string, string>;
}

/** `Prefer: return=…` (FHIR http.html#ops): what the body of a successful write holds. */
export type ReturnPreference = 'representation' | 'minimal' | 'OperationOutcome';

/** The client's return preference; representation when it states none. */
export function returnPreference(prefer: string | undefined): ReturnPreference {
  const m = /return=(minimal|representation|OperationOutcome)/.exec(prefer ?? '');
  return (m?.[1] as ReturnPreference | undefined) ?? 'representation';
}

/** `Type/id/_history/v` of a record. */
export function versionPath(record: CanonicalRecord): string {
  return `${record.resourceType}/${record.id}/_history/${record.version}`;
}

/**
 * The reply to a create: 201 with the new record, or 200 when the resource landed on a record the
 * gateway already held (the same patient from another feed, a retried request).
 * @param base - absolute URL of the FHIR base, without a trailing slash
 */
export function createdReply(record: CanonicalRecord, created: boolean, base: string, prefer: ReturnPreference, outcome: object): FhirReply {
  return {
    status: created ? 201 : 200,
    body: prefer === 'minimal' ? undefined : prefer === 'OperationOutcome' ? outcome : record.resource,
    headers: {
      Location: `${base}/${versionPath(record)}`,
      ETag: `W/"${record.version}"`,
      'Last-Modified': new Date(record.lastUpdated).toUTCString(),
    },
  };
}

/**
 * The transaction-response Bundle: one entry per request entry, in the request's order (FHIR
 * http.html#transaction-response), each with its status, location and version.
 * @param records - the records stored for the entries, in `graph.order`
 */
export function transactionResponse(graph: BundleGraph, records: ReadonlyArray<{ record: CanonicalRecord; created: boolean }>): object {
  const byEntry = new Map<number, { record: CanonicalRecord; created: boolean }>();
  (graph.order ?? []).forEach((entry, k) => {
    const r = records[k];
    if (r) byEntry.set(entry, r);
  });
  return {
    resourceType: 'Bundle',
    type: 'transaction-response',
    entry: graph.links.map((l) => {
      const r = byEntry.get(l.index);
      if (!r) return { response: { status: '500 Internal Server Error' } };
      return {
        response: {
          status: r.created ? '201 Created' : '200 OK',
          location: versionPath(r.record),
          etag: `W/"${r.record.version}"`,
          lastModified: r.record.lastUpdated,
        },
      };
    }),
  };
}
