import type { AuditEntry, AuditEvent } from '../core/types.js';
import { chainAudit } from './audit-chain.js';
import type { LmdbDbs } from './lmdb-schema.js';

/**
 * Appends a hash-chained audit entry inside the write transaction the caller runs: the seq and the
 * previous hash are read in that transaction, so concurrent appends chain in commit order.
 * @param dbs - the opened environment
 * @param event - ids and codes only
 */
export function appendAuditWithin(dbs: LmdbDbs, event: AuditEvent): AuditEntry {
  let last: AuditEntry | undefined;
  for (const { value } of dbs.audit.getRange({ reverse: true, limit: 1 })) last = value;
  const entry = chainAudit(event, last);
  dbs.audit.put(entry.seq, entry);
  return entry;
}

/** Audit entries from `fromSeq` (default 1), at most `limit` (default all). */
export function readAuditEntries(dbs: LmdbDbs, options: { fromSeq?: number; limit?: number }): AuditEntry[] {
  if (options.limit !== undefined && options.limit <= 0) return [];
  const range = { start: options.fromSeq ?? 1, ...(options.limit === undefined ? {} : { limit: options.limit }) };
  return [...dbs.audit.getRange(range)].map(({ value }) => value);
}
