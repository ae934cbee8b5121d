import type { CanonicalRecord, RawMeta } from './types.js';
import type { Caller } from './ports.js';

/** Least privilege: a participant sees what came from it or was routed to it; admin sees all. */
export function canSeeRaw(caller: Caller, raw: RawMeta): boolean {
  return caller.kind === 'admin' || raw.participant === caller.participant;
}

export function canSeeRecord(caller: Caller, record: CanonicalRecord): boolean {
  return caller.kind === 'admin'
    || record.provenance.participant === caller.participant
    || record.sharedWith.includes(caller.participant);
}
