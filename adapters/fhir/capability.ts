import type { Plugin } from '@hapi/hapi';
import { getResourceTypes } from '@medplum/core';
import { FHIR_JSON } from './fhir-answer.js';

/**
 * Types the HL7 v2 normalizer writes (and OperationOutcome, a raw's normalization outcome): what a
 * gateway without FHIR feeds has to read.
 */
const NORMALIZED_TYPES = [
  'Account', 'AllergyIntolerance', 'Appointment', 'ChargeItem', 'Condition', 'Coverage', 'DiagnosticReport', 'DocumentReference',
  'Encounter', 'Immunization', 'MedicationDispense', 'MedicationRequest', 'Observation', 'OperationOutcome', 'Patient',
  'Practitioner', 'Procedure', 'ServiceRequest', 'Specimen',
];

/** The search parameters every type answers (gateway/http/fhir-search.ts). */
const SEARCH_PARAMS = [
  { name: 'identifier', type: 'token', documentation: 'system|value, exact' },
  { name: 'patient', type: 'reference', documentation: 'Patient/id or id: records about that Patient' },
  { name: 'subject', type: 'reference', documentation: 'same as patient' },
  { name: 'code', type: 'token', documentation: '[system|]code on the resource\'s code element; commas for any of several' },
  { name: 'status', type: 'token', documentation: 'exact; commas for any of several' },
  { name: 'date', type: 'date', documentation: 'eq ne lt le gt ge, on the resource\'s clinical date (effective, issued, period.start, authoredOn, recordedDate…)' },
  { name: '_lastUpdated', type: 'date', documentation: 'the ge prefix only' },
];

/** What `GET /fhir/r4/metadata` says, per gateway: whether FHIR feeds can write. */
export interface CapabilityOptions {
  /** A fhir-r4 feed exists, so the R4 definitions are loaded and create/transaction work. */
  writes: boolean;
  /** package.json version. */
  version: string;
  /** When the gateway started: the statement's date. */
  startedAt: Date;
}

/**
 * The CapabilityStatement of this gateway, saying only what it does: read, vread and type search
 * on the parameters above for every type; create (also conditional, on an identifier), update with
 * If-Match, transaction and batch when a FHIR feed is configured; instance history. No delete,
 * type history or conditional update yet, so none is claimed.
 * @param base - the FHIR base URL of the request
 */
export function capabilityStatement(options: CapabilityOptions, base: string): object {
  const types = options.writes ? [...getResourceTypes()].sort() : [...NORMALIZED_TYPES].sort();
  const interactions = ['read', 'vread', 'history-instance', 'search-type', ...(options.writes ? ['create', 'update'] : [])];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: options.startedAt.toISOString(),
    kind: 'instance',
    software: { name: 'Passerelle', version: options.version },
    implementation: { description: 'Passerelle healthcare gateway: canonical records from HL7 v2, FHIR R4 and CSV feeds', url: base },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    rest: [{
      mode: 'server',
      security: {
        cors: false,
        description: 'Bearer token per participant (participants.yaml). A participant reads the records it sent or was routed; it writes through the fhir-r4 feed it owns.',
      },
      resource: types.map((type) => ({
        type,
        interaction: interactions.map((code) => ({ code })),
        // versioned-update: an update honours If-Match.
        versioning: options.writes ? 'versioned-update' : 'versioned',
        readHistory: true,
        updateCreate: false,
        conditionalCreate: options.writes,
        conditionalRead: 'not-supported',
        conditionalUpdate: false,
        conditionalDelete: 'not-supported',
        searchInclude: [`${type}:patient`, `${type}:subject`],
        searchParam: SEARCH_PARAMS,
      })),
      ...(options.writes ? { interaction: [{ code: 'transaction' }, { code: 'batch' }] } : {}),
    }],
  };
}

/**
 * `GET /fhir/r4/metadata` (the literal path wins over `/fhir/r4/{type}`). Authenticated like
 * every other route: the statement is not secret, but no route is open by default.
 */
export const fhirMetadataPlugin: Plugin<CapabilityOptions & { baseUrl: string }> = {
  name: 'passerelle/fhir-r4-metadata',
  register(server, options) {
    server.route({
      method: 'GET', path: '/fhir/r4/metadata',
      handler: (request, h) => h.response(capabilityStatement(options, `${options.baseUrl || request.url.origin}/fhir/r4`)).type(FHIR_JSON),
    });
  },
};
