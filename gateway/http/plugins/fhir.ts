import type { Plugin, ResponseObject, ResponseToolkit, Server } from '@hapi/hapi';
import type { Store } from '../../core/ports.js';
import type { CanonicalRecord } from '../../core/types.js';
import { GatewayError } from '../../../protocol/errors.js';
import { callerOf, param } from '../auth.js';
import { canSeeRecord } from '../../core/access.js';
import { idParam } from '../params.js';
import { parseSearchQuery, searchVisible } from '../fhir-search.js';
import { searchsetBundle } from '../fhir-bundle.js';
import { HISTORY_MAX, historyBundle, versionsOf } from '../fhir-history.js';

const TYPE = /^[A-Z][A-Za-z]{1,63}$/;

/**
 * Read side of the canonical store as FHIR R4: read, vread, instance history and a paged
 * searchset Bundle.
 * @param options.baseUrl - public origin for absolute URLs; empty: the origin the request came to
 */
export function registerFhirRoutes(server: Server, options: { store: Store; baseUrl: string }): void {
  const { store } = options;
  const fhir = (h: ResponseToolkit, body: object): ResponseObject => h.response(body).type('application/fhir+json');

  server.route({
    method: 'GET', path: '/fhir/r4/{type}/{id}',
    handler: async (request, h) => {
      const record = await readVisible(store, param(request, 'type'), idParam(request, 'id'), callerOf(request), undefined);
      return fhir(h, record.resource);
    },
  });
  server.route({
    method: 'GET', path: '/fhir/r4/{type}/{id}/_history',
    handler: async (request, h) => {
      const raw = request.query._count;
      const count = raw === undefined ? HISTORY_MAX : /^[0-9]{1,4}$/.test(String(raw)) ? Number(raw) : NaN;
      if (!Number.isInteger(count) || count < 1 || count > HISTORY_MAX) throw new GatewayError('PSL_BAD_REQUEST', `_count must be 1..${HISTORY_MAX}`);
      const latest = await readVisible(store, param(request, 'type'), idParam(request, 'id'), callerOf(request), undefined);
      return fhir(h, historyBundle(options.baseUrl || `${request.url.origin}/fhir/r4`, latest, await versionsOf(store, latest, count)));
    },
  });
  server.route({
    method: 'GET', path: '/fhir/r4/{type}/{id}/_history/{version}',
    handler: async (request, h) => {
      const raw = param(request, 'version');
      const version = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(version) || version < 1) throw new GatewayError('PSL_BAD_REQUEST', 'version must be a positive integer');
      const record = await readVisible(store, param(request, 'type'), idParam(request, 'id'), callerOf(request), version);
      return fhir(h, record.resource);
    },
  });
  server.route({
    method: 'GET', path: '/fhir/r4/{type}',
    handler: async (request, h) => {
      const type = param(request, 'type');
      if (!TYPE.test(type)) throw new GatewayError('PSL_BAD_REQUEST', 'resource type is not a FHIR type name');
      const query = parseSearchQuery(request.query as Record<string, unknown>);
      const caller = callerOf(request);
      if (query.include && query.include.sourceType !== type) throw new GatewayError('PSL_BAD_REQUEST', '_include names the searched type');
      const page = await searchVisible(store, type, query, (r) => canSeeRecord(caller, r));
      // No public base URL is configured: links point where this request came in.
      const base = options.baseUrl || request.url.origin;
      const included = query.include ? await patientsOf(store, page.records, (r) => canSeeRecord(caller, r)) : [];
      return fhir(h, searchsetBundle({ base, type, query, page, included }));
    },
  });
}

/** The distinct Patients a page's records are about, that the caller may read. */
async function patientsOf(store: Store, records: readonly CanonicalRecord[], canRead: (r: CanonicalRecord) => boolean): Promise<CanonicalRecord[]> {
  const ids = [...new Set(records.flatMap((r) => (r.patientId === undefined ? [] : [r.patientId])))];
  const found = await Promise.all(ids.map((id) => store.getRecord(id)));
  return found.filter((r): r is CanonicalRecord => r !== undefined && r.resourceType === 'Patient' && canRead(r));
}

async function readVisible(store: Store, type: string, id: string, caller: ReturnType<typeof callerOf>, version: number | undefined): Promise<CanonicalRecord> {
  if (!TYPE.test(type)) throw new GatewayError('PSL_BAD_REQUEST', 'resource type is not a FHIR type name');
  const record = await store.getRecord(id, version);
  // "Absent" and "not yours" answer alike: existence is not disclosed.
  if (!record || record.resourceType !== type || !canSeeRecord(caller, record)) {
    throw new GatewayError('PSL_NOT_FOUND', `no ${TYPE.test(type) ? type : 'resource'} with that id${version ? ' and version' : ''}`);
  }
  return record;
}

/** registerFhirRoutes as a hapi plugin (gateway/main.ts registers every HTTP feature from one list). */
export const fhirPlugin: Plugin<{ store: Store; baseUrl: string }> = { name: 'passerelle/fhir-r4', register: registerFhirRoutes };
