/**
 * The small store-agnostic persistence the key directory and the relay need beyond the `Store`
 * contract: keyed blobs with an expiry (envelopes, receipts, blob metadata), an atomic
 * set-if-absent (idempotent submission, the `SET NX` of ENVELOPE.md §6), short append-only lists
 * (delivered receipts) and an append-only log with optimistic positions (the directory log).
 * Two implementations: LmdbRelayStore (its own environment next to the store path) and
 * RedisRelayStore (its own key prefix). Every write resolves only once it is durable, on the
 * same terms as the configured Store. Both seal every value under the data key and store keys as
 * keyed hashes (relay-seal.ts): callers pass and get plain bytes and logical keys.
 */
export interface RelayStore {
  /**
   * Store `value` under `key` until `expiresAt`, replacing any previous value.
   * @param key - relay key (ids only)
   * @param value - bytes (ciphertext or signed metadata, never plaintext)
   * @param expiresAt - epoch ms after which the value is gone
   */
  put(key: string, value: Uint8Array, expiresAt: number): Promise<void>;
  /**
   * Store unless a live value exists, atomically.
   * @returns undefined when stored; the existing value otherwise
   */
  putIfAbsent(key: string, value: Uint8Array, expiresAt: number): Promise<Uint8Array | undefined>;
  /**
   * Store `guard` unless a live value exists and, with it, every value of `others`: all in one
   * durable commit (one LMDB write transaction, one Redis script), or nothing.
   * @param guard - decides for the batch (the `accepted` receipt, which is the idempotency record)
   * @param others - written only when `guard` is (the envelope, blob grants)
   * @returns undefined when stored; the guard's existing value otherwise (nothing written)
   */
  putAllIfAbsent(guard: RelayPut, others: readonly RelayPut[]): Promise<Uint8Array | undefined>;
  /** The live value, or undefined. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Remove a value (no-op when absent). */
  delete(key: string): Promise<void>;
  /**
   * Append to a list and extend its expiry to `expiresAt`.
   * @returns the list length after the append
   */
  listAppend(key: string, value: Uint8Array, expiresAt: number): Promise<number>;
  /** Every item of a live list, oldest first. */
  listRead(key: string): Promise<Uint8Array[]>;
  /**
   * Append one entry to an append-only log at position `seq` (0-based).
   * @returns false when `seq` is not the next position (another writer got there first)
   */
  logAppend(log: string, seq: number, entry: Uint8Array): Promise<boolean>;
  /** Entries from position `fromSeq` to the end. */
  logRead(log: string, fromSeq: number): Promise<Uint8Array[]>;
  /** Where the data lives, for operators and the blindness test. */
  readonly location: string;
  close(): Promise<void>;
}

/** One value of a batch write (RelayStore.putAllIfAbsent). */
export interface RelayPut {
  /** relay key (ids only) */
  readonly key: string;
  readonly value: Uint8Array;
  /** epoch ms after which the value is gone */
  readonly expiresAt: number;
}
