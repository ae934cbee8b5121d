import type { ResponseObject, ResponseToolkit } from '@hapi/hapi';
import { ERROR_REGISTRY, httpStatusOf, type ErrorCode } from '../../protocol/errors.js';

/**
 * The messaging routes' refusal body: the usual `{ error: { code, message } }` plus a stable
 * `reason` clients switch on. Messages name the rule, never a value.
 * @param h - hapi toolkit
 * @param r - registry code (which decides the status), reason, optional retry delay
 */
export function refusalResponse(h: ResponseToolkit, r: { code: ErrorCode; reason: string; retryAfterMs?: number }): ResponseObject {
  const res = h.response({ error: { code: r.code, reason: r.reason, message: `${ERROR_REGISTRY[r.code].message} (${r.reason})` } })
    .code(httpStatusOf(r.code)).type('application/json');
  if (r.retryAfterMs !== undefined) res.header('Retry-After', String(Math.ceil(r.retryAfterMs / 1000)));
  return res;
}
