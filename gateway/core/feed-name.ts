import { GatewayError } from '../../protocol/errors.js';

/** Feed names are config slugs: lower-case letters, digits and `-`, 1-63 characters, not led by `-`. */
export const FEED_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * A feed name from a request, checked before any lookup: an over-long or odd name is a bad request
 * (400), never a store question. The message names the parameter and the rule, never the value.
 * @param value - the name as the request gave it
 * @param where - what carried it, e.g. `path parameter feed`
 */
export function checkFeedName(value: string, where: string): string {
  if (!FEED_NAME.test(value)) throw new GatewayError('PSL_BAD_REQUEST', `${where} must be a feed name: 1-63 characters of a-z 0-9 -, not starting with -`);
  return value;
}
