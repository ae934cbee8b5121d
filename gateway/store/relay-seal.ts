import { GatewayError, isGatewayError } from '../../protocol/errors.js';
import type { AtRestCipher } from './at-rest.js';

const KEY_CHECK = new TextEncoder().encode('passerelle/relay-key-check/v1');
const KEY_CHECK_SLOT = 'relay:key-check';

/**
 * How both RelayStore implementations keep relay metadata unreadable at rest. Callers name values
 * by logical key (`env:<sender>:<id>`, `rcpt:…`, `dlv:…`, `blob:<ref>`); the stores see only:
 * - a physical key: the kind (`env`, `rcpt`, …) in clear, the rest as a keyed hash, so no
 *   participant id, device id or envelope id appears in a key;
 * - a sealed value: AtRestCipher under the data key, its AAD slot naming the physical key (so
 *   the logical one, and an error message names only the hash), so a value copied under another
 *   key fails to open.
 * Expiry times stay in clear (the LMDB sweep and Redis expiry need them), as do value lengths.
 */
export class RelaySealer {
  readonly #cipher: AtRestCipher;

  /** @param cipher - the gateway's at-rest cipher (data key), the same one the Store uses */
  constructor(cipher: AtRestCipher) {
    this.#cipher = cipher;
  }

  /**
   * Where a logical key is stored.
   * @param logical - e.g. `env:kine-martin:<id>`
   */
  key(logical: string): string {
    const colon = logical.indexOf(':');
    // `relay/` separates these hashes from the main Store's index hashes made with the same key.
    const hash = this.#cipher.lookupHash(`relay/${logical}`);
    return colon > 0 ? `${logical.slice(0, colon)}:${hash}` : hash;
  }

  /** Where a log is stored (the name hashed like any key, positions stay positions). */
  logKey(log: string): string {
    return this.key(`log:${log}`);
  }

  /**
   * Seal a value (or a list item).
   * @param key - its physical key, from key()
   */
  seal(key: string, value: Uint8Array): Uint8Array {
    return this.#cipher.seal(value, `relay:${key}`);
  }

  /** @throws GatewayError PSL_STORE_CORRUPT when the value was not sealed for this key with this data key */
  open(key: string, sealed: Uint8Array): Uint8Array {
    return this.#cipher.open(sealed, `relay:${key}`);
  }

  /**
   * Seal a log entry: the slot names the log and the position, so entries cannot be reordered.
   * @param logKey - from logKey()
   */
  sealEntry(logKey: string, seq: number, entry: Uint8Array): Uint8Array {
    return this.#cipher.seal(entry, `relay:${logKey}:${seq}`);
  }

  openEntry(logKey: string, seq: number, sealed: Uint8Array): Uint8Array {
    return this.#cipher.open(sealed, `relay:${logKey}:${seq}`);
  }

  /**
   * A sealed known value, kept with the data. With another data key every hashed key misses, so
   * reads would quietly find nothing; opening this at start turns that into a refusal.
   */
  keyCheck(): Uint8Array {
    return this.#cipher.seal(KEY_CHECK, KEY_CHECK_SLOT);
  }

  /**
   * @param sealed - the stored keyCheck() value
   * @param where - the store's location, for the message
   * @throws GatewayError PSL_STORE_CORRUPT when it was sealed under another data key
   */
  assertKeyCheck(sealed: Uint8Array, where: string): void {
    try {
      const plain = this.#cipher.open(sealed, KEY_CHECK_SLOT);
      if (Buffer.from(plain).equals(KEY_CHECK)) return;
    } catch (err) {
      if (!isGatewayError(err)) throw err;
    }
    throw new GatewayError('PSL_STORE_CORRUPT',
      `relay store at ${where} was sealed with another data key: configure the dataKey it was written with`);
  }
}

/** Layout version of relay data; 1 was plain values under clear keys. */
export const RELAY_FORMAT = 2;
