import { STATUS_CODES } from 'node:http';
import { isGatewayError } from '../../protocol/errors.js';
import type { IssueCode } from '../../gateway/core/issues.js';
import type { FhirReply } from './fhir-answer.js';
import { refusal } from './fhir-request.js';
import { createOne, updateOne, type WriteContext, type Writer } from './fhir-writes.js';
import { UPDATE_PATH } from './request-line.js';

const ISSUE_FOR_STATUS: Record<number, IssueCode> = { 400: 'value', 403: 'forbidden', 404: 'not-found', 412: 'conflict', 413: 'too-long', 415: 'not-supported' };

interface BatchEntry {
  resource?: unknown;
  request?: { method?: unknown; url?: unknown; ifNoneExist?: unknown; ifMatch?: unknown };
}

/**
 * A `batch` Bundle (FHIR http.html#transaction, batch rules): every entry is its own interaction,
 * answered on its own in a `batch-response`, in the request's order; one entry failing changes
 * nothing for the others. Entries are creates (`POST Type`, `ifNoneExist` honoured) and updates
 * (`PUT Type/id`, `ifMatch` honoured), each stored as the bytes of its resource as sent, and
 * validated on its own (batch entries may not refer to each other). Other methods are answered
 * 400 not-supported.
 * @param text - the request body; `spans` locate each entry's resource in it
 */
export async function runBatch(
  ctx: WriteContext, who: Writer, bundle: Record<string, unknown>, text: string, spans: ReadonlyMap<number, readonly [number, number]>, maxEntries: number,
): Promise<FhirReply> {
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as unknown[]) : [];
  if (entries.length === 0) return refusal(400, [{ severity: 'error', code: 'required', where: 'Bundle.entry', message: 'a batch has at least one entry' }]);
  if (entries.length > maxEntries) return refusal(413, [{ severity: 'error', code: 'too-long', where: 'Bundle.entry', message: `a batch may hold at most ${maxEntries} entries` }]);
  const replies = await Promise.all(entries.map((e, i) => entryReply(ctx, who, e, i, text, spans.get(i))));
  return { status: 200, body: { resourceType: 'Bundle', type: 'batch-response', entry: replies.map((r) => responseEntry(r, who)) }, headers: {} };
}

async function entryReply(ctx: WriteContext, who: Writer, raw: unknown, i: number, text: string, span: readonly [number, number] | undefined): Promise<FhirReply> {
  const where = `Bundle.entry[${i}]`;
  const e = (typeof raw === 'object' && raw !== null ? raw : {}) as BatchEntry;
  const method = e.request?.method;
  const url = typeof e.request?.url === 'string' ? e.request.url : '';
  const resource = e.resource;
  if (method !== 'POST' && method !== 'PUT') {
    return refusal(400, [{ severity: 'error', code: 'not-supported', where: `${where}.request.method`, message: 'batch entries are creates (POST) and updates (PUT)' }]);
  }
  if (typeof resource !== 'object' || resource === null || Array.isArray(resource) || span === undefined) {
    return refusal(400, [{ severity: 'error', code: 'required', where: `${where}.resource`, message: 'a create or update entry carries a resource' }]);
  }
  const body = Buffer.from(text.slice(span[0], span[1]), 'utf8');
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  try {
    if (method === 'POST') return await createOne(ctx, who, { type: url, resource: resource as Record<string, unknown>, body }, str(e.request?.ifNoneExist));
    const target = UPDATE_PATH.exec(url);
    if (!target) return refusal(400, [{ severity: 'error', code: 'value', where: `${where}.request.url`, message: 'an update entry\'s url is Type/id' }]);
    return await updateOne(ctx, who, { type: target[1]!, id: target[2]!, resource: resource as Record<string, unknown>, body }, str(e.request?.ifMatch));
  } catch (err) {
    // What the error mapper answers for a whole request, this entry answers alone.
    if (!isGatewayError(err) || err.httpStatus >= 500) throw err;
    return refusal(err.httpStatus, [{ severity: 'error', code: ISSUE_FOR_STATUS[err.httpStatus] ?? 'processing', message: `${err.code}: ${err.message}` }]);
  }
}

/** One batch-response entry: the resource when asked for, and the response with its outcome. */
function responseEntry(r: FhirReply, who: Writer): object {
  const ok = r.status < 300;
  const location = r.headers.Location;
  return {
    ...(ok && r.body !== undefined && who.prefer === 'representation' ? { resource: r.body } : {}),
    response: {
      status: `${r.status} ${STATUS_CODES[r.status] ?? ''}`.trim(),
      ...(location ? { location: location.startsWith(who.base) ? location.slice(who.base.length + 1) : location } : {}),
      ...(r.headers.ETag ? { etag: r.headers.ETag } : {}),
      ...(r.headers['Last-Modified'] ? { lastModified: new Date(r.headers['Last-Modified']).toISOString() } : {}),
      ...(!ok && r.body !== undefined ? { outcome: r.body } : {}),
      ...(ok && who.prefer === 'OperationOutcome' && r.body !== undefined ? { outcome: r.body } : {}),
    },
  };
}
