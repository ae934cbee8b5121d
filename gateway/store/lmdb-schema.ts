import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { AuditEntry, Identifier, IdentityConflict, QueueItem } from '../core/types.js';

/**
 * The LMDB layout of LmdbStore: one environment, named sub-databases. Keys are ordered-binary
 * arrays, so ranges sort by their elements. Nothing here holds content in clear: raw bodies and
 * record contents are AtRestCipher blobs; index keys hold ids, hashes, type names and times.
 * Patient identifiers and sourceRefs appear only as keyed hashes (AtRestCipher.lookupHash).
 *
 * | db      | key                                          | value                       |
 * |---------|----------------------------------------------|-----------------------------|
 * | raw     | rawId                                        | StoredRaw (body sealed)     |
 * | dedupe  | ['s', feed, sha256 or PutRawOptions.dedupeHash] (dedupe) / ['r', feed, refHash] (latest raw with that sourceRef) | rawId |
 * |         | ['w', feed, hash without MSH-7] (duplicate window)  | `<epoch ms> <rawId>`        |
 * | rec     | [recId, version]                             | sealed CanonicalRecord JSON |
 * | head    | recId                                        | RecordHead                  |
 * | idx     | ['i', identHash, type, recId]                | true                        |
 * |         | ['p', patientId, type, recId]                | true                        |
 * |         | ['t', type, lastUpdated, recId]              | true                        |
 * |         | ['m', matchHash, recId]                      | true (identity domain match) |
 * | conflict| conflictId                                   | IdentityConflict (ids only) |
 * | queue   | ['i', queue, itemId]                         | QueueEntry                  |
 * |         | ['d', queue, dueAt, seq, itemId]             | DueMark (waiting)           |
 * |         | ['l', queue, leaseUntil, seq, itemId]        | DueMark (leased)            |
 * |         | ['a', queue]                                 | batch applier and its lease |
 * |         | ['x', queue, seq, itemId]                    | true (dead letters)         |
 * |         | ['seq']                                      | last queue sequence number  |
 * | audit   | seq                                          | AuditEntry                  |
 * | relay-kv | RelaySealer key (kind + keyed hash)         | { v: sealed, exp } or { items: sealed[], exp } |
 * | relay-log | [RelaySealer log key, position]            | sealed entry                |
 * | relay-meta | 'format', 'key-check'                      | layout number, key check    |
 *
 * The relay tables belong to LmdbRelayStore (messaging), in this environment so that an accepted
 * envelope and its queue entries commit together.
 */
export interface LmdbDbs {
  readonly env: RootDatabase;
  readonly raw: Database<StoredRaw, string>;
  readonly dedupe: Database<string, [string, string, string]>;
  readonly rec: Database<Uint8Array, [string, number]>;
  readonly head: Database<RecordHead, string>;
  readonly idx: Database<true, Array<string>>;
  readonly queue: Database<QueueEntry | DueMark | number | true | { applier: string; until: number }, Array<string | number>>;
  readonly audit: Database<AuditEntry, number>;
  readonly conflict: Database<IdentityConflict, string>;
  readonly relayKv: Database<RelaySlot, string>;
  readonly relayLog: Database<Uint8Array, [string, number]>;
  readonly relayMeta: Database<number | Uint8Array, string>;
}

/** A relay-kv value: one sealed value, or a sealed list; `exp` in epoch ms. */
export type RelaySlot = { v: Uint8Array; exp: number } | { items: Uint8Array[]; exp: number };

/** A raw message as stored: metadata in clear (ids, hashes, names from config), body sealed. */
export interface StoredRaw {
  feed: string;
  participant: string;
  format: string;
  /** epoch ms */
  receivedAt: number;
  sha256: string;
  /** AtRestCipher blob of the sourceRef (MSH-10 and the like), slot `ref:<id>` */
  sealedRef?: Uint8Array;
  contentType?: string;
  charset?: string;
  /** AtRestCipher blob of the REST request line (it may name an identifier), slot `req:<id>` */
  sealedRequest?: Uint8Array;
  bytes: number;
  /** the feed had already sent this sourceRef with other bytes */
  controlIdReused?: boolean;
  /** AtRestCipher blob, slot `raw:<id>` */
  sealed: Uint8Array;
}

/** What the indexes need about a record's latest version, without decrypting it. */
export interface RecordHead {
  version: number;
  resourceType: string;
  lastUpdated: string;
  patientId?: string;
  /** keyed hash of each identifier of the latest version */
  identHashes: string[];
  /** match keys this record claims in its identity domain (record-match.ts), keyed hashes */
  matchHashes?: string[];
}

/** A queue item's state. `leased` items carry the token of their current lease. */
export interface QueueEntry {
  item: QueueItem;
  attempt: number;
  /** epoch ms the item was enqueued: what oldestAgeMs measures */
  enqueuedAt: number;
  /** epoch ms: ready at (waiting) or lease end (leased) */
  dueAt: number;
  seq: number;
  state: 'waiting' | 'leased' | 'dead';
  token?: string;
  reason?: string;
  deadSeq?: number;
}

/** Value of a `d` key: enough for queueStats without reading the entry. */
export interface DueMark {
  leased: boolean;
  enqueuedAt: number;
}

/**
 * Opens (or creates) the environment at `path`.
 *
 * Durability: `overlappingSync: false` makes every commit fsync before lmdb-js resolves the write's
 * promise, so "resolved" means "on disk". The default (true on Linux) resolves at commit and flushes
 * later, which would let us ACK before the data is durable. lmdb-js still batches every write
 * queued in the same event turn into one transaction, so N concurrent puts cost one fsync
 * (group commit). noSync, noMetaSync, useWritemap and noMemInit stay off: they trade crash safety,
 * or (noMemInit) leave stale heap bytes in file pages.
 * @param path - directory holding data.mdb and lock.mdb
 */
export function openLmdb(path: string): LmdbDbs {
  // Data files 0600 in a 0700 directory whatever the umask (lmdb-js would create 0755 / 0664).
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
  const env = open({ path, overlappingSync: false, maxDbs: 12, permissionsMode: 0o600 } as Parameters<typeof open>[0]);
  for (const f of ['data.mdb', 'lock.mdb']) if (existsSync(join(path, f))) chmodSync(join(path, f), 0o600);
  return {
    env,
    raw: env.openDB('raw', { encoding: 'msgpack' }),
    dedupe: env.openDB('dedupe', { encoding: 'string' }),
    rec: env.openDB('rec', { encoding: 'binary' }),
    head: env.openDB('head', { encoding: 'msgpack' }),
    idx: env.openDB('idx', { encoding: 'msgpack' }),
    queue: env.openDB('queue', { encoding: 'msgpack' }),
    audit: env.openDB('audit', { encoding: 'msgpack' }),
    conflict: env.openDB('conflict', { encoding: 'msgpack' }),
    relayKv: env.openDB('relay-kv', { encoding: 'msgpack' }),
    relayLog: env.openDB('relay-log', { encoding: 'binary' }),
    relayMeta: env.openDB('relay-meta', { encoding: 'msgpack' }),
  };
}

/** Above every string an ordered-binary key element can hold here: closes a prefix range. */
export const HIGH = '\uffff';

/** How an identifier is hashed into index keys (system and value both count); hash is AtRestCipher.lookupHash. */
export function identifierHash(identifier: Identifier, hash: (value: string) => string): string {
  return hash(`${identifier.system}|${identifier.value}`);
}
