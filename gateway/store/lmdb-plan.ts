import type { IdentityConflict } from '../core/types.js';
import { HIGH, type LmdbDbs, type RecordHead } from './lmdb-schema.js';

/** The tables a record write reads and changes (LmdbRecords.putWithin): directly, or planned. */
export interface RecordTables {
  head(id: string): RecordHead | undefined;
  version(id: string, version: number): Uint8Array | undefined;
  /** Index keys one element longer than `prefix` (the match index: ['m', hash] → ['m', hash, id]), in key order. */
  indexKeys(prefix: string[]): string[][];
  putHead(id: string, head: RecordHead): void;
  putVersion(id: string, version: number, sealed: Uint8Array): void;
  putIndex(key: string[]): void;
  removeIndex(key: string[]): void;
  putConflict(conflict: IdentityConflict): void;
}

/** Reads and writes the environment as they come (inside a write transaction). */
export function directTables(dbs: LmdbDbs): RecordTables {
  return {
    head: (id) => dbs.head.get(id),
    version: (id, version) => dbs.rec.get([id, version]),
    indexKeys: (prefix) => [...dbs.idx.getKeys({ start: prefix, end: [...prefix, HIGH] })] as string[][],
    putHead: (id, head) => void dbs.head.put(id, head),
    putVersion: (id, version, sealed) => void dbs.rec.put([id, version], sealed),
    putIndex: (key) => void dbs.idx.put(key, true),
    removeIndex: (key) => void dbs.idx.remove(key),
    putConflict: (conflict) => void dbs.conflict.put(conflict.id, conflict),
  };
}

/**
 * A batch's record writes planned outside the write transaction: reads go to the committed
 * environment (and to the plan's own earlier writes), writes are buffered, and every read is kept.
 * The expensive part of a batch (matching, sealing, hashing, canonical comparison) therefore runs
 * while intake keeps committing; inside the transaction, `stillValid()` re-reads the read set and
 * `apply()` writes the buffered values. A read that changed meanwhile means the plan may be wrong,
 * and the caller runs the batch again inside the transaction (optimistic concurrency: a plan that
 * validates decided exactly what a run in the transaction would have).
 */
export class LmdbPlan implements RecordTables {
  readonly #dbs: LmdbDbs;
  /** head id → what the store held when first read (JSON; 'null': none) */
  readonly #readHeads = new Map<string, string>();
  /** prefix (mapKey) → the store's keys under it when first read (JSON) */
  readonly #readPrefixes = new Map<string, { prefix: string[]; keys: string }>();
  readonly #heads = new Map<string, RecordHead>();
  readonly #versions = new Map<string, { id: string; version: number; sealed: Uint8Array }>();
  /**
   * buffered index changes, last one wins: key (mapKey) → key, whether it ends present, and
   * whether its first change removed it (the key was committed: removals come from a record's
   * previous head)
   */
  readonly #index = new Map<string, { key: string[]; present: boolean; wasCommitted: boolean }>();
  /** the same changes by their key less its last element (mapKey), for indexKeys */
  readonly #byPrefix = new Map<string, Set<string>>();
  readonly #conflicts: IdentityConflict[] = [];

  /** @param dbs - the environment; read outside any write transaction */
  constructor(dbs: LmdbDbs) {
    this.#dbs = dbs;
  }

  head(id: string): RecordHead | undefined {
    const written = this.#heads.get(id);
    if (written !== undefined) return written;
    const stored = this.#dbs.head.get(id);
    if (!this.#readHeads.has(id)) this.#readHeads.set(id, JSON.stringify(stored ?? null));
    return stored;
  }

  version(id: string, version: number): Uint8Array | undefined {
    // Versions are written once: one the plan did not write is as committed (its head is in the read set).
    return this.#versions.get(`${id}\u0000${version}`)?.sealed ?? this.#dbs.rec.get([id, version]);
  }

  indexKeys(prefix: string[]): string[][] {
    const stored = [...this.#dbs.idx.getKeys({ start: prefix, end: [...prefix, HIGH] })] as string[][];
    const p = mapKey(prefix);
    if (!this.#readPrefixes.has(p)) this.#readPrefixes.set(p, { prefix, keys: JSON.stringify(stored) });
    const changes = this.#byPrefix.get(p);
    if (changes === undefined) return stored;
    const keys = new Map(stored.map((k) => [mapKey(k), k]));
    for (const k of changes) {
      const change = this.#index.get(k);
      if (change === undefined) continue;
      if (change.present) keys.set(k, change.key);
      else keys.delete(k);
    }
    return [...keys.values()].sort(compareKeys);
  }

  putHead(id: string, head: RecordHead): void {
    this.#heads.set(id, head);
  }

  putVersion(id: string, version: number, sealed: Uint8Array): void {
    this.#versions.set(`${id}\u0000${version}`, { id, version, sealed });
  }

  putIndex(key: string[]): void {
    this.#change(key, true);
  }

  removeIndex(key: string[]): void {
    this.#change(key, false);
  }

  putConflict(conflict: IdentityConflict): void {
    this.#conflicts.push(conflict);
  }

  /** Inside the write transaction: is every read still what the plan was based on? */
  stillValid(): boolean {
    for (const [id, seen] of this.#readHeads) if (JSON.stringify(this.#dbs.head.get(id) ?? null) !== seen) return false;
    for (const { prefix, keys } of this.#readPrefixes.values()) {
      if (JSON.stringify([...this.#dbs.idx.getKeys({ start: prefix, end: [...prefix, HIGH] })]) !== keys) return false;
    }
    return true;
  }

  /** Inside the write transaction, after stillValid(): writes what the plan buffered. */
  apply(): void {
    const { rec, head, idx, conflict } = this.#dbs;
    for (const v of this.#versions.values()) rec.put([v.id, v.version], v.sealed);
    for (const [id, h] of this.#heads) head.put(id, h);
    for (const { key, present, wasCommitted } of this.#index.values()) {
      // Removed and put back (an update that keeps an identifier or match key): the committed key
      // stays as it is, and its B-tree page is not copied for nothing.
      if (present && wasCommitted) continue;
      if (present) idx.put(key, true);
      else idx.remove(key);
    }
    for (const c of this.#conflicts) conflict.put(c.id, c);
  }

  #change(key: string[], present: boolean): void {
    const k = mapKey(key);
    this.#index.set(k, { key, present, wasCommitted: this.#index.get(k)?.wasCommitted ?? !present });
    const p = mapKey(key.slice(0, -1));
    let set = this.#byPrefix.get(p);
    if (set === undefined) this.#byPrefix.set(p, (set = new Set()));
    set.add(k);
  }
}

/** A Map key for an index key: its elements never hold NUL (ids, hashes, type names, ISO times). */
function mapKey(key: readonly string[]): string {
  return key.join('\u0000');
}

/** Element-wise order of string keys, as ordered-binary sorts these (ids and hashes are ASCII). */
function compareKeys(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}
