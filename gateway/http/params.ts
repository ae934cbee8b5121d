import { GatewayError } from '../../protocol/errors.js';
import { checkFeedName } from '../core/feed-name.js';
import { param } from './auth.js';

/** Our ids (`raw_…`, `rec_…`) and FHIR ids ([A-Za-z0-9\-.]{1,64}, R4 datatypes "id"), plus `_`. */
const ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * A path id checked for length and characters before any store access: an over-long or odd id
 * is a bad request (400), not a store failure. The message names the parameter, never the value.
 * @param request - the hapi request
 * @param name - the path parameter
 */
export function idParam(request: { params: Record<string, unknown> }, name: string): string {
  const value = param(request, name);
  if (!ID.test(value)) throw new GatewayError('PSL_BAD_REQUEST', `path parameter ${name} must be 1-64 characters of A-Z a-z 0-9 . _ -`);
  return value;
}

/** A feed name from the path, checked like {@link idParam} against the config slug rule. */
export function feedParam(request: { params: Record<string, unknown> }, name: string): string {
  return checkFeedName(param(request, name), `path parameter ${name}`);
}
