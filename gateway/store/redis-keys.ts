import type { Identifier } from '../core/types.js';

/**
 * Every Redis key RedisStore touches, in one place, all under the configured prefix.
 *
 * Layout (P = prefix):
 *   P raw:<rawId>                      hash  m = meta JSON (no content), b = sealed body
 *   P raw:dup:sha:<h(feed, sha256)>    string → rawId (dedupe on bytes)
 *   P raw:dup:ref:<h(feed, sourceRef)> string → latest rawId with that MSH-10 / Bundle.id / file#row (flags a reused control id; not a dedupe key)
 *   P raw:dup:win:<h(feed, hash)>      string → rawId, expiring after the feed's duplicate window (hash of the bytes without MSH-7)
 *   P rec:<recId>                      hash  v = latest version, t = resourceType, u = lastUpdated ms
 *   P rec:<recId>:v                    hash  <version> → sealed CanonicalRecord JSON
 *   P ix:ident:<h(system|value)>       set   members `<resourceType>|<recId>`
 *   P ix:patient:<h(patientId)>        set   members `<resourceType>|<recId>`
 *   P ix:type:<resourceType>           zset  recId scored by lastUpdated ms
 *   P ix:match:<h(domain, type, key)>  set   the one record `<resourceType>|<recId>` claiming a match key
 *   P idc                              hash  conflictId → identity conflict JSON (ids and codes only)
 *   P q:<name>:s                       stream of ready items (consumer group `g`; the PEL is what is in flight)
 *   P q:<name>:payload                 hash  itemId → payload JSON (ids and codes only)
 *   P q:<name>:state                   hash  itemId → `attempt|token|streamId|enqueuedMs`
 *   P q:<name>:delayed                 zset  itemId scored by the time it becomes ready
 *   P q:<name>:leases                  zset  itemId scored by leaseUntil
 *   P q:<name>:waiting                 zset  itemId scored by enqueue time (depth and oldest age)
 *   P q:<name>:dead                    stream of dead letters (i, p, r = reason, a = attempt, at)
 *   P q:<name>:applier                 string → the one batch applier (Store.claimBatch), expires with its lease
 *   P audit                            list  audit entries as JSON, index = seq - 1
 *
 * Identifier values, patient ids, feed names and sourceRefs only ever appear hashed (h = keyed HMAC-SHA-256 hex),
 * so a SCAN or DUMP of the prefix shows no patient identifier in clear.
 */
export class RedisKeys {
  /**
   * @param prefix - namespace for every key, e.g. `passerelle:`
   * @param hash - keyed hash for values that must not appear in clear (AtRestCipher.lookupHash)
   */
  constructor(readonly prefix: string, private readonly hash: (value: string) => string) {}

  // NUL cannot occur in a feed name, so (a, b) pairs cannot collide by shifting the separator.
  private hashParts(a: string, b: string): string {
    return this.hash(`${a}\u0000${b}`);
  }

  raw(id: string): string {
    return `${this.prefix}raw:${id}`;
  }

  rawBySha(feed: string, sha256: string): string {
    return `${this.prefix}raw:dup:sha:${this.hashParts(feed, sha256)}`;
  }

  rawByRef(feed: string, sourceRef: string): string {
    return `${this.prefix}raw:dup:ref:${this.hashParts(feed, sourceRef)}`;
  }

  /** Duplicate window (PutRawOptions.similar): expires with the window. */
  rawBySimilar(feed: string, hash: string): string {
    return `${this.prefix}raw:dup:win:${this.hashParts(feed, hash)}`;
  }

  record(id: string): string {
    return `${this.prefix}rec:${id}`;
  }

  recordVersions(id: string): string {
    return `${this.prefix}rec:${id}:v`;
  }

  byIdentifier(identifier: Identifier): string {
    return `${this.prefix}ix:ident:${this.hash(`${identifier.system}|${identifier.value}`)}`;
  }

  /** Records claiming one match key in its identity domain (record-match.ts matchLookup). */
  byMatch(lookup: string): string {
    return `${this.prefix}ix:match:${this.hash(lookup)}`;
  }

  /** Identity conflicts: hash conflictId → JSON (ids and codes only). */
  identityConflicts(): string {
    return `${this.prefix}idc`;
  }

  byPatient(patientId: string): string {
    return `${this.prefix}ix:patient:${this.hash(patientId)}`;
  }

  byType(resourceType: string): string {
    return `${this.prefix}ix:type:${resourceType}`;
  }

  /** The keys of one queue, named by role. */
  queue(name: string): QueueKeys {
    const base = `${this.prefix}q:${name}:`;
    return {
      stream: `${base}s`,
      payload: `${base}payload`,
      state: `${base}state`,
      delayed: `${base}delayed`,
      leases: `${base}leases`,
      waiting: `${base}waiting`,
      dead: `${base}dead`,
      applier: `${base}applier`,
    };
  }

  audit(): string {
    return `${this.prefix}audit`;
  }
}

/** Keys of one queue; see RedisKeys for what each holds. */
export interface QueueKeys {
  readonly stream: string;
  readonly payload: string;
  readonly state: string;
  readonly delayed: string;
  readonly leases: string;
  readonly waiting: string;
  readonly dead: string;
  readonly applier: string;
}

/** Index-set member: the type travels with the id so typed lookups filter without reading records. */
export function indexMember(resourceType: string, id: string): string {
  return `${resourceType}|${id}`;
}

/** Inverse of indexMember. */
export function parseIndexMember(member: string): { resourceType: string; id: string } {
  const bar = member.indexOf('|');
  return { resourceType: member.slice(0, bar), id: member.slice(bar + 1) };
}
