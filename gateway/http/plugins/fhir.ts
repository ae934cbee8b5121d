import type { ResponseObject, ResponseToolkit, Server } from '@hapi/hapi';
import type { Store } from '../../core/ports.js';
import type { CanonicalRecord } from '../../core/types.js';
import { GatewayError } from '../../core/errors.js';
import { callerOf, param } from '../auth.js';
import { canSeeRecord } from '../access.js';
import { idParam } from '../params.js';

const TYPE = /^[A-Z][A-Za-z]{1,63}$/;

/** Read side of the canonical store as FHIR R4: read, vread and a searchset Bundle. */
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
      const query = request.query as Record<string, unknown>;
      const found = await search(store, type, query);
      const caller = callerOf(request);
      const visible = found.filter((r) => r.resourceType === type && canSeeRecord(caller, r));
      return fhir(h, {
        resourceType: 'Bundle', type: 'searchset', total: visible.length,
        entry: visible.map((r) => ({ fullUrl: `${options.baseUrl}/fhir/r4/${r.resourceType}/${r.id}`, resource: r.resource, search: { mode: 'match' } })),
      });
    },
  });
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

async function search(store: Store, type: string, query: Record<string, unknown>): Promise<CanonicalRecord[]> {
  const known = new Set(['identifier', 'patient', 'subject', '_lastUpdated', '_count']);
  const unknown = Object.keys(query).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new GatewayError('PSL_BAD_REQUEST', `unsupported search parameter: ${unknown.join(', ')}`);
  const single = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0) throw new GatewayError('PSL_BAD_REQUEST', `${name} must be given once`);
    // Bounded before any store lookup: an over-long value is a bad request, not a store failure.
    if (v.length > 512) throw new GatewayError('PSL_BAD_REQUEST', `${name} must be at most 512 characters`);
    return v;
  };
  const identifier = single('identifier');
  if (identifier !== undefined) {
    const bar = identifier.indexOf('|');
    if (bar <= 0 || bar === identifier.length - 1) throw new GatewayError('PSL_BAD_REQUEST', 'identifier must be system|value');
    return store.findByIdentifier({ system: identifier.slice(0, bar), value: identifier.slice(bar + 1) }, type);
  }
  const patient = single('patient') ?? single('subject');
  if (patient !== undefined) return store.findByPatient(patient.replace(/^Patient\//, ''), type);
  const lastUpdated = single('_lastUpdated');
  const count = single('_count');
  const limit = count === undefined ? 100 : Number(count);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new GatewayError('PSL_BAD_REQUEST', '_count must be 1..1000');
  if (lastUpdated !== undefined) {
    const since = /^ge(.+)$/.exec(lastUpdated)?.[1];
    if (!since || Number.isNaN(Date.parse(since))) throw new GatewayError('PSL_BAD_REQUEST', '_lastUpdated must be ge<instant>');
    return store.findByType(type, { since: new Date(since).toISOString(), limit });
  }
  return store.findByType(type, { limit });
}
