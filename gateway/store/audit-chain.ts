import { createHash } from 'node:crypto';
import type { AuditEntry, AuditEvent } from '../core/types.js';
import { canonicalJson } from './canonical-json.js';

/** prevHash of the first entry. */
export const AUDIT_GENESIS = '0'.repeat(64);

/**
 * Builds the next entry of the hash chain: hash = SHA-256(prevHash ‖ canonical JSON of the entry
 * without its hash). Both stores use this, so a chain written by one verifies with the other's code.
 */
export function chainAudit(event: AuditEvent, previous: AuditEntry | undefined, at: Date = new Date()): AuditEntry {
  const body = {
    seq: previous ? previous.seq + 1 : 1,
    at: at.toISOString(),
    prevHash: previous ? previous.hash : AUDIT_GENESIS,
    action: event.action,
    actor: event.actor,
    ...(event.subject === undefined ? {} : { subject: event.subject }),
    ...(event.detail === undefined ? {} : { detail: event.detail }),
  };
  return { ...body, hash: auditHash(body) };
}

/** Hash of an entry's body (everything but `hash`). */
export function auditHash(entry: Omit<AuditEntry, 'hash'>): string {
  const { seq, at, prevHash, action, actor, subject, detail } = entry;
  return createHash('sha256').update(prevHash).update(canonicalJson({ seq, at, prevHash, action, actor, subject, detail })).digest('hex');
}

/** First seq whose link or hash is wrong, or undefined when the chain (in seq order) is intact. */
export function firstBrokenLink(entries: readonly AuditEntry[]): number | undefined {
  let prevHash = AUDIT_GENESIS;
  let expectedSeq = 1;
  for (const entry of entries) {
    if (entry.seq !== expectedSeq || entry.prevHash !== prevHash || auditHash(entry) !== entry.hash) return entry.seq;
    prevHash = entry.hash;
    expectedSeq++;
  }
  return undefined;
}
