import type { Request, Server } from '@hapi/hapi';
import { isResourceType } from '@medplum/core';
import { GatewayError } from '../../protocol/errors.js';
import { canSeeRecord } from '../../gateway/core/access.js';
import { operationOutcome, type Issue } from '../../gateway/core/issues.js';
import type { IntakePort, Store } from '../../gateway/core/ports.js';
import type { CanonicalRecord } from '../../gateway/core/types.js';
import { FHIR_JSON, createdReply, returnPreference } from './fhir-answer.js';
import { callerOf, feedOf, header, isError, readBody, refusal, reply, type FhirFeed } from './fhir-request.js';
import type { R4Validator } from './validate.js';
import type { WriteOutcomes } from './write-outcome.js';

/** A record id in a path: FHIR's id rule, plus `_` for records stored before ids followed it. */
const PATH_ID = /^[A-Za-z0-9\-._]{1,64}$/;

/** What the update route needs from the write plugin. */
export interface UpdateContext {
  byOwner: ReadonlyMap<string, FhirFeed>;
  intake: IntakePort;
  store: Pick<Store, 'getRecord'>;
  validator: R4Validator;
  outcomes: WriteOutcomes;
  payload: { parse: false; output: 'data'; maxBytes: number };
  base: (request: Request) => string;
}

/**
 * `PUT /fhir/r4/{type}/{id}`: a new version of a record the caller's feed wrote (FHIR versioned
 * update). The body's id is the URL's; `If-Match: W/"n"` makes it conditional on version n, also
 * against a racing update (the store checks it in the batch transaction). A PUT never creates
 * (the CapabilityStatement says updateCreate false): an unknown id is a 404.
 */
export function registerFhirUpdateRoute(server: Server, ctx: UpdateContext): void {
  server.route({
    method: 'PUT', path: '/fhir/r4/{type}/{id}', options: { payload: ctx.payload },
    handler: async (request, h) => {
      const feed = feedOf(request, ctx.byOwner);
      const type = String(request.params.type);
      const id = String(request.params.id);
      if (!isResourceType(type)) throw new GatewayError('PSL_NOT_FOUND', 'no FHIR R4 resource type of that name');
      if (!PATH_ID.test(id)) throw new GatewayError('PSL_BAD_REQUEST', 'path parameter id must be 1-64 characters of A-Z a-z 0-9 . _ -');
      const ifMatch = versionOf(header(request, 'if-match'));
      if (ifMatch === null) return reply(h, refusal(400, [{ severity: 'error', code: 'value', where: 'If-Match', message: 'If-Match is a version tag, W/"n"' }]));
      const read = readBody(request, feed);
      if (!read.ok) return reply(h, read.reply);
      const { id: bodyId, ...content } = read.value;
      const mismatch: Issue | undefined = read.value.resourceType !== type
        ? { severity: 'error', code: 'value', where: 'resourceType', message: `the body's resourceType is not the ${type} the URL names` }
        : bodyId !== id ? { severity: 'error', code: 'value', where: `${type}.id`, message: 'an update carries the id of the URL in the body' } : undefined;
      if (mismatch) return reply(h, refusal(400, [mismatch]));
      // The id is the gateway's own, checked above: the rest is the client's and is validated.
      const issues = ctx.validator.validate(content);
      if (issues.some(isError)) return reply(h, refusal(422, issues));
      const record = await ctx.store.getRecord(id);
      if (!record || record.resourceType !== type || !canSeeRecord(callerOf(request), record)) {
        throw new GatewayError('PSL_NOT_FOUND', `no ${type} with that id; a PUT does not create one, POST it`);
      }
      if (!mayUpdate(record, feed)) throw new GatewayError('PSL_FORBIDDEN', 'only the participant that wrote a record (or its identity domain) may update it');
      if (ifMatch !== undefined && ifMatch !== record.version) return reply(h, stale(record.version));
      const line = `PUT ${type}/${id}${ifMatch === undefined ? '' : `?_ifMatch=${ifMatch}`}`;
      const stored = await ctx.intake.accept({ feed: feed.name, participant: feed.owner, format: 'fhir-r4', body: read.body, contentType: FHIR_JSON, request: line });
      const written = await ctx.outcomes.recordsOf(stored.rawId, issues);
      if (!written.ok) return reply(h, written.reply);
      const lost = written.issues.find((i) => i.where === 'If-Match' && i.code === 'conflict');
      const [updated] = written.records;
      if (lost || !updated) return reply(h, stale(updated?.version));
      return reply(h, createdReply(updated, false, ctx.base(request), returnPreference(header(request, 'prefer')), operationOutcome(written.issues)));
    },
  });
}

/** Version n of `W/"n"` (or `"n"`); undefined without the header; null when it is not a version tag. */
function versionOf(value: string | undefined): number | undefined | null {
  if (value === undefined) return undefined;
  const m = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(value);
  return m ? Number(m[1]) : null;
}

function mayUpdate(record: CanonicalRecord, feed: FhirFeed): boolean {
  return record.provenance.participant === feed.owner || (feed.identityDomain !== undefined && record.identityDomain === feed.identityDomain);
}

function stale(latest: number | undefined): ReturnType<typeof refusal> {
  return refusal(412, [{ severity: 'error', code: 'conflict', where: 'If-Match', message: `the record has moved on${latest === undefined ? '' : ` to version ${latest}`}; read it and retry` }]);
}
