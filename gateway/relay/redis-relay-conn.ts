import { createClient } from 'redis';

/**
 * The relay's own Redis client (RESP3), apart from the Store's connection.
 * @param url - redis URL
 */
export function connectRelay(url: string) {
  return createClient({ url, RESP: 3 });
}

/** The relay's own client. */
export type RelayConn = ReturnType<typeof connectRelay>;
