import type { AuditEvent, Lease, QueueItem } from './types.js';

/**
 * What the key directory and the relay keep, in the gateway's Store (Store.openRelayStore): keyed
 * values with an expiry (envelopes, receipts, blob metadata), short append-only lists (each
 * device's outcome), an append-only log with optimistic positions (the directory log), and the
 * two relay steps that must be one commit with the Store's queues and audit log: accepting an
 * envelope and settling a delivery. Two implementations, in the Store's own environment (LMDB)
 * or on its Redis under `<prefix>relay:`. Every write resolves only once it is durable, on the
 * same terms as the Store. Both seal every value under the data key and store keys as keyed
 * hashes (store/relay-seal.ts): callers pass and get plain bytes and logical keys.
 */
export interface RelayStore {
  /**
   * Accept an envelope, in one durable commit: the receipt, the envelope and its blob grants, one
   * queue entry per recipient device and the audit entry; or nothing, when a live receipt is
   * already stored under the same key (ENVELOPE.md §6: idempotent submission).
   * @returns undefined when stored; the stored receipt otherwise
   */
  acceptEnvelope(acceptance: EnvelopeAcceptance): Promise<Uint8Array | undefined>;
  /**
   * Settle a delivery, in one durable commit: complete the device's lease, append its outcome
   * (a delivered or rejected receipt) to the envelope's list, write the audit entry, and delete
   * `drop.key` once the list holds `drop.count` outcomes (the envelope, after its last device).
   * @returns the list length after the append
   * @throws GatewayError PSL_LEASE_LOST when the lease is no longer held (nothing is written)
   */
  settleDelivery(lease: Lease, settlement: DeliverySettlement): Promise<number>;
  /**
   * Store `value` under `key` until `expiresAt`, replacing any previous value.
   * @param key - relay key (ids only)
   * @param value - bytes (ciphertext or signed metadata, never plaintext)
   * @param expiresAt - epoch ms after which the value is gone
   */
  put(key: string, value: Uint8Array, expiresAt: number): Promise<void>;
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

/** What accepting one envelope writes (RelayStore.acceptEnvelope). */
export interface EnvelopeAcceptance {
  /** The signed `accepted` receipt: the idempotency record, which decides for the whole commit. */
  readonly receipt: RelayPut;
  /** Written with it: the envelope, its blob grants. */
  readonly values: readonly RelayPut[];
  /** One queue entry per recipient device (enqueue is idempotent per item id). */
  readonly deliveries: ReadonlyArray<{ readonly queue: string; readonly item: QueueItem }>;
  readonly audit: AuditEvent;
}

/** What settling one delivery writes (RelayStore.settleDelivery). */
export interface DeliverySettlement {
  /** The device's outcome, appended to the envelope's outcome list (key, value, list expiry). */
  readonly outcome: RelayPut;
  readonly audit: AuditEvent;
  /** Delete `key` once the list holds `count` outcomes. */
  readonly drop: { readonly key: string; readonly count: number };
}

/** One value of a batch write (RelayStore.putAllIfAbsent, acceptEnvelope). */
export interface RelayPut {
  /** relay key (ids only) */
  readonly key: string;
  readonly value: Uint8Array;
  /** epoch ms after which the value is gone */
  readonly expiresAt: number;
}
