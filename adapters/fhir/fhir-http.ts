import type { Plugin, Request, Server } from '@hapi/hapi';
import type { Logger } from 'pino';
import { isResourceType } from '@medplum/core';
import { GatewayError } from '../../protocol/errors.js';
import type { IntakePort, NormalizationEvents, Store } from '../../gateway/core/ports.js';
import { checkTransaction } from './bundle-checks.js';
import { FHIR_JSON, returnPreference, transactionResponse, type FhirReply } from './fhir-answer.js';
import { callerOf, createdBy, feedOf, header, isError, readBody, refusal, reply, type FhirFeed } from './fhir-request.js';
import { runBatch } from './fhir-batch.js';
import { createOne, updateOne, type ResourceWrite, type WriteContext, type Writer } from './fhir-writes.js';
import type { R4Validator } from './validate.js';
import { WriteOutcomes } from './write-outcome.js';

export type { FhirFeed } from './fhir-request.js';

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
 * The FHIR R4 write side: `POST /fhir/r4/{type}` (create, conditional with If-None-Exist),
 * `PUT /fhir/r4/{type}/{id}` (update, If-Match) and `POST /fhir/r4` (a transaction or batch
 * Bundle). The caller's bearer token names its participant, whose fhir-r4 feed the body goes
 * through. Each body is read as FHIR JSON and validated against R4 before anything is stored;
 * a refusal is an OperationOutcome (400 unreadable, 422 invalid) and stores nothing. An accepted
 * body is durable (IntakePort) before the reply, which waits for its records: 201 with the
 * record, or 202 with the raw's id when normalization takes longer than `answerWithinMs`.
 */
export function registerFhirWriteRoutes(server: Server, options: FhirHttpOptions): void {
  const byOwner = new Map(options.feeds.map((f) => [f.owner, f]));
  const outcomes = new WriteOutcomes(options);
  server.events.on('stop', () => outcomes.close());
  const payload = { parse: false, output: 'data', maxBytes: options.maxBodyBytes } as const;
  // No public base URL is configured: absolute URLs name the origin the request came to.
  const base = (request: Request): string => `${options.baseUrl || request.url.origin}/fhir/r4`;
  const ctx: WriteContext = { intake: options.intake, store: options.store, validator: options.validator, outcomes };
  const writer = (request: Request): Writer => ({
    feed: feedOf(request, byOwner), caller: callerOf(request), base: base(request), prefer: returnPreference(header(request, 'prefer')),
  });
  /** The body as one resource of the URL's type: unknown types are a 404 before the body is read. */
  const resourceOf = (request: Request, who: Writer): { ok: true; write: ResourceWrite } | { ok: false; reply: FhirReply } => {
    const type = String(request.params.type);
    if (!isResourceType(type)) throw new GatewayError('PSL_NOT_FOUND', 'no FHIR R4 resource type of that name');
    const read = readBody(request, who.feed);
    return read.ok ? { ok: true, write: { type, resource: read.value, body: read.body } } : read;
  };

  server.route({
    method: 'POST', path: '/fhir/r4/{type}', options: { payload },
    handler: async (request, h) => {
      const who = writer(request);
      const r = resourceOf(request, who);
      return reply(h, r.ok ? await createOne(ctx, who, r.write, header(request, 'if-none-exist')) : r.reply);
    },
  });

  server.route({
    method: 'PUT', path: '/fhir/r4/{type}/{id}', options: { payload },
    handler: async (request, h) => {
      const who = writer(request);
      const r = resourceOf(request, who);
      return reply(h, r.ok ? await updateOne(ctx, who, { ...r.write, id: String(request.params.id) }, header(request, 'if-match')) : r.reply);
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
      if (bundle.type === 'batch') return reply(h, await runBatch(ctx, writer(request), bundle, read.text, read.entrySpans, options.maxBundleEntries));
      const checked = checkTransaction(bundle, options.maxBundleEntries);
      if (!checked.ok) return reply(h, refusal(checked.status, checked.issues));
      const issues = options.validator.validate(bundle);
      if (issues.some(isError)) return reply(h, refusal(422, issues));
      const stored = await options.intake.accept({ feed: feed.name, participant: feed.owner, format: 'fhir-r4', body: read.body, contentType: FHIR_JSON, request: 'POST' });
      const written = await outcomes.recordsOf(stored, issues);
      if (!written.ok) return reply(h, written.reply);
      const records = written.records.map((record) => ({ record, created: createdBy(record, stored) }));
      return reply(h, { status: 200, body: transactionResponse(checked.graph, records), headers: {} });
    },
  });
}

/** registerFhirWriteRoutes as a hapi plugin (gateway/main.ts registers every HTTP feature from one list). */
export const fhirWritePlugin: Plugin<FhirHttpOptions> = { name: 'passerelle/fhir-r4-write', register: registerFhirWriteRoutes };
