import type { Plugin, Request, ResponseToolkit, Server } from '@hapi/hapi';
import type { Logger } from 'pino';
import { isResourceType } from '@medplum/core';
import { GatewayError } from '../../protocol/errors.js';
import { operationOutcome, type Issue } from '../../gateway/core/issues.js';
import type { Caller, IntakePort, NormalizationEvents, NormalizationOutcome, Store } from '../../gateway/core/ports.js';
import { storedOutcome } from '../../gateway/core/stored-outcome.js';
import { canSeeRecord } from '../../gateway/core/access.js';
import type { CanonicalRecord } from '../../gateway/core/types.js';
import { OutcomeRouter } from '../outcome-router.js';
import { checkTransaction } from './bundle-checks.js';
import { FHIR_JSON, createdReply, returnPreference, transactionResponse, type FhirReply } from './fhir-answer.js';
import { parseFhirJson } from './json-text.js';
import { conditionOf, createRequest } from './conditional.js';
import type { R4Validator } from './validate.js';

/** One fhir-r4 feed as HTTP sees it (main.ts maps the config onto this). */
export interface FhirFeed {
  name: string;
  /** Participant id of the owner: its bearer token selects this feed. */
  owner: string;
  maxBodyBytes?: number;
}

/** Options for {@link registerFhirWriteRoutes}. */
export interface FhirHttpOptions {
  feeds: readonly FhirFeed[];
  intake: IntakePort;
  events: NormalizationEvents;
  store: Pick<Store, 'getRecord' | 'findByIdentifier'>;
  validator: R4Validator;
  log: Logger;
  /** Largest body the routes read (a feed may lower it). */
  maxBodyBytes: number;
  /** Largest transaction, in entries. */
  maxBundleEntries: number;
  /** How long a write waits for its records before it answers 202 with the stored raw. */
  answerWithinMs: number;
  /** Public origin for absolute URLs; empty: the origin the request came to. */
  baseUrl: string;
}

/**
 * The FHIR R4 write side: `POST /fhir/r4/{type}` (create) and `POST /fhir/r4` (a transaction
 * Bundle). The caller's bearer token names its participant, whose fhir-r4 feed the body goes
 * through. Each body is read as FHIR JSON and validated against R4 before anything is stored;
 * a refusal is an OperationOutcome (400 unreadable, 422 invalid) and stores nothing. An accepted
 * body is durable (IntakePort) before the reply, which waits for its records: 201 with the
 * record, or 202 with the raw's id when normalization takes longer than `answerWithinMs`.
 */
export function registerFhirWriteRoutes(server: Server, options: FhirHttpOptions): void {
  const byOwner = new Map(options.feeds.map((f) => [f.owner, f]));
  const outcomes = new OutcomeRouter(options.events);
  server.events.on('stop', () => outcomes.close());
  const payload = { parse: false, output: 'data', maxBytes: options.maxBodyBytes } as const;
  // No public base URL is configured: absolute URLs name the origin the request came to.
  const base = (request: Request): string => `${options.baseUrl || request.url.origin}/fhir/r4`;

  server.route({
    method: 'POST', path: '/fhir/r4/{type}', options: { payload },
    handler: async (request, h) => {
      const feed = feedOf(request, byOwner);
      const type = String(request.params.type);
      if (!isResourceType(type)) throw new GatewayError('PSL_NOT_FOUND', 'no FHIR R4 resource type of that name');
      const read = readBody(request, feed);
      if (!read.ok) return reply(h, read.reply);
      const resource = read.value;
      if (resource.resourceType !== type) {
        return reply(h, refusal(400, [{ severity: 'error', code: 'value', where: 'resourceType', message: `the body's resourceType is not the ${type} the URL names` }]));
      }
      const condition = conditionOf(header(request, 'if-none-exist'));
      if (!condition.ok) return reply(h, refusal(400, [condition.issue]));
      const issues = options.validator.validate(resource);
      if (issues.some(isError)) return reply(h, refusal(422, issues));
      const prefer = returnPreference(header(request, 'prefer'));
      if (condition.identifier) {
        // Existing matches the caller may read decide first; the store's keep rule covers the race.
        const caller = callerOf(request);
        const found = (await options.store.findByIdentifier(condition.identifier, type)).filter((r) => canSeeRecord(caller, r));
        if (found.length > 1) return reply(h, refusal(412, [{ severity: 'error', code: 'duplicate', where: 'If-None-Exist', message: 'several records match the condition; nothing was created' }]));
        if (found[0]) return reply(h, createdReply(found[0], false, base(request), prefer, operationOutcome([{ severity: 'information', code: 'informational', message: 'a record matches the condition; nothing was created' }])));
      }
      const stored = await options.intake.accept({ feed: feed.name, participant: feed.owner, format: 'fhir-r4', body: read.body, contentType: FHIR_JSON, request: createRequest(type, condition.identifier) });
      const written = await recordsOf(stored.rawId, issues);
      if (!written.ok) return reply(h, written.reply);
      const [first] = written.records;
      if (!first) return reply(h, refusal(500, [{ severity: 'error', code: 'exception', message: 'the resource was stored but no record was written' }]));
      return reply(h, createdReply(first, createdBy(first, stored), base(request), prefer, operationOutcome(written.issues)));
    },
  });

  server.route({
    method: 'POST', path: '/fhir/r4', options: { payload },
    handler: async (request, h) => {
      const feed = feedOf(request, byOwner);
      const read = readBody(request, feed);
      if (!read.ok) return reply(h, read.reply);
      const bundle = read.value;
      if (bundle.resourceType !== 'Bundle') {
        return reply(h, refusal(400, [{ severity: 'error', code: 'value', where: 'resourceType', message: 'the base accepts a Bundle; POST other resources to /fhir/r4/{type}' }]));
      }
      const checked = checkTransaction(bundle, options.maxBundleEntries);
      if (!checked.ok) return reply(h, refusal(checked.status, checked.issues));
      const issues = options.validator.validate(bundle);
      if (issues.some(isError)) return reply(h, refusal(422, issues));
      const stored = await options.intake.accept({ feed: feed.name, participant: feed.owner, format: 'fhir-r4', body: read.body, contentType: FHIR_JSON, request: 'POST' });
      const written = await recordsOf(stored.rawId, issues);
      if (!written.ok) return reply(h, written.reply);
      const records = written.records.map((record) => ({ record, created: createdBy(record, stored) }));
      return reply(h, { status: 200, body: transactionResponse(checked.graph, records), headers: {} });
    },
  });

  /** The records normalization wrote for a raw, or the reply that says why there are none. */
  async function recordsOf(rawId: string, warnings: readonly Issue[]): Promise<{ ok: true; records: CanonicalRecord[]; issues: Issue[] } | { ok: false; reply: FhirReply }> {
    const outcome = await waitForOutcome(rawId);
    if (!outcome) {
      return { ok: false, reply: { status: 202, body: operationOutcome([{ severity: 'information', code: 'informational', message: `stored as raw ${rawId}; its records are not written yet` }]), headers: { 'Content-Location': `/v1/raw/${rawId}` } } };
    }
    if (!outcome.ok) return { ok: false, reply: refusal(422, outcome.issues) };
    const records = await Promise.all(outcome.recordIds.map((id) => options.store.getRecord(id)));
    return { ok: true, records: records.filter((r): r is CanonicalRecord => r !== undefined), issues: [...warnings, ...outcome.issues] };
  }

  /** Resolves with the outcome, from the worker's event or the stored outcome (a duplicate's), or undefined on timeout. */
  function waitForOutcome(rawId: string): Promise<NormalizationOutcome | undefined> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (o: NormalizationOutcome | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        cancel();
        resolve(o);
      };
      const timer = setTimeout(() => finish(undefined), options.answerWithinMs);
      const cancel = outcomes.expect(rawId, finish);
      storedOutcome(options.store, rawId).then((s) => {
        if (s) finish(s.outcome);
      }, (err: unknown) => options.log.warn({ err, rawId }, 'stored outcome not read'));
    });
  }
}

/**
 * A record this raw created: its first version, written from this raw (a conditional create that
 * lost the race gets the winner's record; a retry of a stored body gets its original's).
 */
function createdBy(record: CanonicalRecord, stored: { status: 'stored' | 'duplicate'; rawId: string }): boolean {
  return stored.status === 'stored' && record.version === 1 && record.provenance.rawId === stored.rawId;
}

function callerOf(request: Request): Caller {
  return request.auth.credentials as unknown as Caller;
}

function feedOf(request: Request, byOwner: ReadonlyMap<string, FhirFeed>): FhirFeed {
  const feed = byOwner.get(callerOf(request).participant);
  if (!feed) throw new GatewayError('PSL_FORBIDDEN', 'the caller owns no fhir-r4 feed');
  return feed;
}

type ReadBody = { ok: true; body: Buffer; value: Record<string, unknown> & { resourceType?: unknown } } | { ok: false; reply: FhirReply };

/** The body as FHIR JSON: media type, size, UTF-8, syntax, duplicate properties. */
function readBody(request: Request, feed: FhirFeed): ReadBody {
  const type = (header(request, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== FHIR_JSON) throw new GatewayError('PSL_UNSUPPORTED_MEDIA', `content type must be ${FHIR_JSON}`);
  const body = request.payload as Buffer | null;
  if (!body || body.length === 0) throw new GatewayError('PSL_PAYLOAD_EMPTY');
  if (feed.maxBodyBytes !== undefined && body.length > feed.maxBodyBytes) throw new GatewayError('PSL_PAYLOAD_TOO_LARGE', `body exceeds the feed limit of ${feed.maxBodyBytes} bytes`);
  const parsed = parseFhirJson(body);
  if (!parsed.ok) return { ok: false, reply: refusal(400, parsed.issues) };
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reply: refusal(400, [{ severity: 'error', code: 'structure', where: 'body', message: 'a FHIR resource is a JSON object' }]) };
  }
  if (typeof (value as { resourceType?: unknown }).resourceType !== 'string') {
    return { ok: false, reply: refusal(400, [{ severity: 'error', code: 'required', where: 'resourceType', message: 'resourceType is missing' }]) };
  }
  return { ok: true, body, value: value as Record<string, unknown> };
}

function refusal(status: number, issues: readonly Issue[]): FhirReply {
  return { status, body: operationOutcome(issues), headers: {} };
}

function reply(h: ResponseToolkit, r: FhirReply): ReturnType<ResponseToolkit['response']> {
  const out = r.body === undefined ? h.response().code(r.status) : h.response(r.body).code(r.status).type(FHIR_JSON);
  for (const [k, v] of Object.entries(r.headers)) out.header(k, v);
  return out;
}

const isError = (i: Issue): boolean => i.severity === 'error' || i.severity === 'fatal';

function header(request: Request, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** registerFhirWriteRoutes as a hapi plugin (gateway/main.ts registers every HTTP feature from one list). */
export const fhirWritePlugin: Plugin<FhirHttpOptions> = { name: 'passerelle/fhir-r4-write', register: registerFhirWriteRoutes };
