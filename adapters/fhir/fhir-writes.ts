import { GatewayError } from '../../protocol/errors.js';
import { canSeeRecord } from '../../gateway/core/access.js';
import { operationOutcome, type Issue } from '../../gateway/core/issues.js';
import type { Caller, IntakePort, Store } from '../../gateway/core/ports.js';
import type { CanonicalRecord } from '../../gateway/core/types.js';
import { conditionOf } from './conditional.js';
import { RECORD_ID, createLine, updateLine } from './request-line.js';
import { FHIR_JSON, createdReply, type FhirReply, type ReturnPreference } from './fhir-answer.js';
import { createdBy, isError, refusal, type FhirFeed } from './fhir-request.js';
import type { R4Validator } from './validate.js';
import type { WriteOutcomes } from './write-outcome.js';

/** What every FHIR write uses. */
export interface WriteContext {
  intake: IntakePort;
  store: Pick<Store, 'getRecord' | 'findByIdentifier'>;
  validator: R4Validator;
  outcomes: WriteOutcomes;
}

/** Who writes, and how the answer is written. */
export interface Writer {
  feed: FhirFeed;
  caller: Caller;
  /** Absolute FHIR base URL of the request. */
  base: string;
  prefer: ReturnPreference;
}

/** One resource to write, as read from a request body or a batch entry. */
export interface ResourceWrite {
  type: string;
  resource: Record<string, unknown>;
  /** The resource's bytes as sent: what is stored. */
  body: Uint8Array;
}

/**
 * A create (FHIR http.html#create), conditional when `ifNoneExist` is given: validated, stored,
 * normalized, answered with the record. Throws GatewayErrors for what the error mapper answers.
 */
export async function createOne(ctx: WriteContext, who: Writer, write: ResourceWrite, ifNoneExist: string | undefined): Promise<FhirReply> {
  const { type, resource } = write;
  if (resource.resourceType !== type) {
    return refusal(400, [{ severity: 'error', code: 'value', where: 'resourceType', message: `the resourceType is not the ${type} the URL names` }]);
  }
  const condition = conditionOf(ifNoneExist);
  if (!condition.ok) return refusal(400, [condition.issue]);
  const issues = ctx.validator.validate(resource);
  if (issues.some(isError)) return refusal(422, issues);
  if (condition.identifier) {
    // Existing matches the caller may read decide first; the store's keep rule covers the race.
    const found = (await ctx.store.findByIdentifier(condition.identifier, type)).filter((r) => canSeeRecord(who.caller, r));
    if (found.length > 1) return refusal(412, [{ severity: 'error', code: 'duplicate', where: 'If-None-Exist', message: 'several records match the condition; nothing was created' }]);
    if (found[0]) return createdReply(found[0], false, who.base, who.prefer, operationOutcome([{ severity: 'information', code: 'informational', message: 'a record matches the condition; nothing was created' }]));
  }
  const stored = await ctx.intake.accept({ feed: who.feed.name, participant: who.feed.owner, format: 'fhir-r4', body: write.body, contentType: FHIR_JSON, request: createLine(type, condition.identifier) });
  const written = await ctx.outcomes.recordsOf(stored, issues);
  if (!written.ok) return written.reply;
  const [first] = written.records;
  if (!first) return refusal(500, [{ severity: 'error', code: 'exception', message: 'the resource was stored but no record was written' }]);
  return createdReply(first, createdBy(first, stored), who.base, who.prefer, operationOutcome(written.issues));
}

/**
 * An update (FHIR http.html#update): a new version of a record the writer's feed wrote (or its
 * identity domain). The body's id is the URL's; `If-Match: W/"n"` makes it conditional on version
 * n, also against a racing update (the store checks it in the batch transaction). Never creates.
 */
export async function updateOne(ctx: WriteContext, who: Writer, write: ResourceWrite & { id: string }, ifMatchHeader: string | undefined): Promise<FhirReply> {
  const { type, id } = write;
  if (!RECORD_ID.test(id)) throw new GatewayError('PSL_BAD_REQUEST', 'path parameter id must be 1-64 characters of A-Z a-z 0-9 . _ -');
  const ifMatch = versionOf(ifMatchHeader);
  if (ifMatch === null) return refusal(400, [{ severity: 'error', code: 'value', where: 'If-Match', message: 'If-Match is a version tag, W/"n"' }]);
  const { id: bodyId, ...content } = write.resource;
  const mismatch: Issue | undefined = write.resource.resourceType !== type
    ? { severity: 'error', code: 'value', where: 'resourceType', message: `the resourceType is not the ${type} the URL names` }
    : bodyId !== id ? { severity: 'error', code: 'value', where: `${type}.id`, message: 'an update carries the id of the URL in the body' } : undefined;
  if (mismatch) return refusal(400, [mismatch]);
  // The id is the gateway's own, checked above: the rest is the client's and is validated.
  const issues = ctx.validator.validate(content);
  if (issues.some(isError)) return refusal(422, issues);
  const record = await ctx.store.getRecord(id);
  if (!record || record.resourceType !== type || !canSeeRecord(who.caller, record)) {
    throw new GatewayError('PSL_NOT_FOUND', `no ${type} with that id; a PUT does not create one, POST it`);
  }
  if (!mayUpdate(record, who.feed)) throw new GatewayError('PSL_FORBIDDEN', 'only the participant that wrote a record (or its identity domain) may update it');
  if (ifMatch !== undefined && ifMatch !== record.version) return stale(record.version);
  // A record about a patient stays about that patient: an update naming another is refused.
  const moved = record.patientId === undefined ? undefined : patientMove(content, record.patientId);
  if (moved) return refusal(409, [{ severity: 'error', code: 'conflict', where: `${type}.${moved}`, message: 'an update may not move a record to another patient; create a new one' }]);
  const stored = await ctx.intake.accept({ feed: who.feed.name, participant: who.feed.owner, format: 'fhir-r4', body: write.body, contentType: FHIR_JSON, request: updateLine(type, id, ifMatch) });
  const written = await ctx.outcomes.recordsOf(stored, issues);
  if (!written.ok) return written.reply;
  const lost = written.issues.find((i) => i.where === 'If-Match' && i.code === 'conflict');
  const [updated] = written.records;
  if (lost || !updated) return stale(updated?.version);
  return createdReply(updated, false, who.base, who.prefer, operationOutcome(written.issues));
}

/** The element (subject, patient, beneficiary) that names a Patient other than `patientId`, if any. */
function patientMove(resource: Record<string, unknown>, patientId: string): string | undefined {
  for (const element of ['subject', 'patient', 'beneficiary']) {
    const ref = (resource[element] as { reference?: unknown } | undefined)?.reference;
    if (typeof ref === 'string' && /(^|\/)Patient\//.test(ref) && !ref.endsWith(`Patient/${patientId}`)) return `${element}.reference`;
  }
  return undefined;
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

function stale(latest: number | undefined): FhirReply {
  return refusal(412, [{ severity: 'error', code: 'conflict', where: 'If-Match', message: `the record has moved on${latest === undefined ? '' : ` to version ${latest}`}; read it and retry` }]);
}
