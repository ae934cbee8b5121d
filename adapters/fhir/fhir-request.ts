/** What the FHIR write routes share: reading a request, and writing a reply. */
import type { Request, ResponseToolkit } from '@hapi/hapi';
import { GatewayError } from '../../protocol/errors.js';
import { operationOutcome, type Issue } from '../../gateway/core/issues.js';
import type { Caller } from '../../gateway/core/ports.js';
import type { CanonicalRecord } from '../../gateway/core/types.js';
import { FHIR_JSON, type FhirReply } from './fhir-answer.js';
import { parseFhirJson } from './json-text.js';

/** One fhir-r4 feed as HTTP sees it (main.ts maps the config onto this). */
export interface FhirFeed {
  name: string;
  /** Participant id of the owner: its bearer token selects this feed. */
  owner: string;
  maxBodyBytes?: number;
  /** The feed's shared identity domain (feeds.yaml identity.domain): its records may be updated too. */
  identityDomain?: string;
}

/**
 * A record this raw created: its first version, written from this raw (a conditional create that
 * lost the race gets the winner's record; a retry of a stored body gets its original's).
 */
export function createdBy(record: CanonicalRecord, stored: { status: 'stored' | 'duplicate'; rawId: string }): boolean {
  return stored.status === 'stored' && record.version === 1 && record.provenance.rawId === stored.rawId;
}

export function callerOf(request: Request): Caller {
  return request.auth.credentials as unknown as Caller;
}

export function feedOf(request: Request, byOwner: ReadonlyMap<string, FhirFeed>): FhirFeed {
  const feed = byOwner.get(callerOf(request).participant);
  if (!feed) throw new GatewayError('PSL_FORBIDDEN', 'the caller owns no fhir-r4 feed');
  return feed;
}

export type ReadBody = {
  ok: true;
  body: Buffer;
  value: Record<string, unknown> & { resourceType?: unknown };
  /** The body as text, and where a Bundle's entry resources are in it (a batch stores each). */
  text: string;
  entrySpans: ReadonlyMap<number, readonly [number, number]>;
} | { ok: false; reply: FhirReply };

/** The body as FHIR JSON: media type, size, UTF-8, syntax, duplicate properties. */
export function readBody(request: Request, feed: FhirFeed): ReadBody {
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
  return { ok: true, body, value: value as Record<string, unknown>, text: parsed.text, entrySpans: parsed.entrySpans };
}

export function refusal(status: number, issues: readonly Issue[]): FhirReply {
  return { status, body: operationOutcome(issues), headers: {} };
}

export function reply(h: ResponseToolkit, r: FhirReply): ReturnType<ResponseToolkit['response']> {
  const out = r.body === undefined ? h.response().code(r.status) : h.response(r.body).code(r.status).type(FHIR_JSON);
  for (const [k, v] of Object.entries(r.headers)) out.header(k, v);
  return out;
}

export const isError = (i: Issue): boolean => i.severity === 'error' || i.severity === 'fatal';

export function header(request: Request, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}
