import { GatewayError } from '../../protocol/errors.js';
import type { AuditEntry, AuditEvent } from '../core/types.js';
import { chainAudit, firstBrokenLink } from './audit-chain.js';
import type { RedisConn } from './redis-conn.js';
import type { RedisKeys } from './redis-keys.js';
import { AUDIT_APPEND } from './redis-scripts.js';

/** Entries read per LRANGE when verifying, so a long chain is not pulled in one reply. */
const PAGE = 1000;
/** Compare-and-set rounds before an append gives up (only other processes can make a round fail). */
const MAX_ROUNDS = 64;

/**
 * The hash-chained audit log as one Redis list (index = seq - 1). The hash is SHA-256, which Lua
 * cannot compute, so Node chains the entry on the current tail and AUDIT_APPEND pushes it only if
 * the list has not grown since. Appends from this process are serialised locally first, so races
 * are left only between processes.
 */
export class RedisAudit {
  private tail: Promise<unknown> = Promise.resolve();

  /**
   * @param conn - open connection
   * @param keys - key layout under the store's prefix
   */
  constructor(private readonly conn: RedisConn, private readonly keys: RedisKeys) {}

  /** @param event - ids and codes only */
  append(event: AuditEvent): Promise<AuditEntry> {
    const key = this.keys.audit();
    return this.appendVia<AuditEntry>(event, async (entry, json) => {
      const length = await AUDIT_APPEND.run<number>(this.conn, [key], [String(entry.seq - 1), json]);
      return length === entry.seq ? { chained: true, value: entry } : { chained: false };
    });
  }

  /**
   * Append `event` through `commit`, a script that pushes the entry onto the audit list (KEYS:
   * `keys.audit()`) only while the list still holds `entry.seq - 1` entries, with whatever else
   * it writes: one atomic step. `chained: false` means another process appended first; the entry
   * is chained again on the new tail and `commit` runs again. Serialised with every other append
   * of this process, so only other processes can make a round fail.
   * @param event - ids and codes only
   * @param commit - runs the script; gets the chained entry and its JSON
   */
  appendVia<T>(event: AuditEvent, commit: (entry: AuditEntry, json: string) => Promise<{ chained: false } | { chained: true; value: T }>): Promise<T> {
    const next = this.tail.then(() => this.appendNow(event, commit));
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** @param options - first seq (default 1) and how many (default all) */
  async read(options: { fromSeq?: number; limit?: number } = {}): Promise<AuditEntry[]> {
    const start = Math.max(1, options.fromSeq ?? 1) - 1;
    if (options.limit !== undefined && options.limit <= 0) return [];
    const stop = options.limit === undefined ? -1 : start + options.limit - 1;
    return (await this.conn.lRange(this.keys.audit(), start, stop)).map(parseEntry);
  }

  /** First broken seq, or undefined when the whole chain verifies. */
  async verify(): Promise<number | undefined> {
    const entries: AuditEntry[] = [];
    for (let start = 0; ; start += PAGE) {
      const page = await this.conn.lRange(this.keys.audit(), start, start + PAGE - 1);
      entries.push(...page.map(parseEntry));
      if (page.length < PAGE) break;
    }
    return firstBrokenLink(entries);
  }

  private async appendNow<T>(event: AuditEvent, commit: (entry: AuditEntry, json: string) => Promise<{ chained: false } | { chained: true; value: T }>): Promise<T> {
    const key = this.keys.audit();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const last = await this.conn.lIndex(key, -1);
      const previous = last === null ? undefined : parseEntry(last);
      const entry = chainAudit(event, previous);
      const done = await commit(entry, JSON.stringify(entry));
      if (done.chained) return done.value;
    }
    throw new GatewayError('PSL_STORE_UNAVAILABLE', `audit append kept conflicting after ${MAX_ROUNDS} rounds`);
  }
}

function parseEntry(json: string): AuditEntry {
  try {
    return JSON.parse(json) as AuditEntry;
  } catch (cause) {
    throw new GatewayError('PSL_STORE_CORRUPT', 'an audit entry is not JSON', { cause });
  }
}
