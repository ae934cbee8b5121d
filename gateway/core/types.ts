/** Canonical types shared by every stage. Imports nothing else from the repo. */

export type Format = 'hl7v2' | 'fhir-r4' | 'csv' | 'raw';

/** Bytes exactly as the feed delivered them (after framing). Never logged; stored encrypted. */
export interface RawMessage {
  readonly id: string;
  readonly feed: string;
  readonly participant: string;
  readonly format: Format;
  readonly receivedAt: Date;
  readonly body: Uint8Array;
  /** Hex SHA-256 of body: dedupe key and what logs show. */
  readonly sha256: string;
  /** MSH-10, Bundle.id, `file.csv#row=12`: identifiers, never content. */
  readonly sourceRef?: string;
  /** The transport's content type, as received (HTTP `Content-Type`), when it had one. */
  readonly contentType?: string;
  /**
   * The character set the intake decoded the body with (HL7 v2: the feed's override, MSH-18 or
   * the transport's), so the normalizer reads the text exactly as the intake did.
   */
  readonly charset?: string;
  /**
   * The REST request that delivered the raw, when its meaning depends on it (FHIR: `POST Patient`
   * creates, `POST` to the base runs a Bundle, `POST Patient?identifier=s|v` creates unless that
   * identifier exists). It may name an identifier, so the stores seal it like the body.
   */
  readonly request?: string;
  /** Set by the store: the feed had already sent this sourceRef (control id) with other bytes. */
  readonly controlIdReused?: boolean;
}

/** What the store returns about a raw without its body. */
export type RawMeta = Omit<RawMessage, 'body'> & { readonly bytes: number };

export const MODEL_VERSION = 'passerelle/1' as const;

export interface Provenance {
  feed: string;
  participant: string;
  rawId: string;
  /** `PID[1]`, `OBX[3]`, `Bundle.entry[2]`, `row 17`. */
  location: string;
  /** normalizer name + version, e.g. `hl7v2-adt@1`. */
  mapping: string;
  receivedAt: string;
  /** Populated source fields the mapping did not use (locations only, e.g. `PID-11`), for coverage figures. */
  unmapped?: string[];
  /** Populated source fields of the message vs those the mapping used. */
  coverage?: { populated: number; mapped: number };
}

/** A FHIR R4 resource as plain JSON. */
export interface FhirResource {
  resourceType: string;
  id?: string;
  [key: string]: unknown;
}

export interface Identifier {
  system: string;
  value: string;
}

/** One canonical record version. `resource` is FHIR R4 JSON; the store encrypts it at rest. */
export interface CanonicalRecord {
  readonly id: string;
  readonly resourceType: string;
  readonly version: number;
  readonly modelVersion: typeof MODEL_VERSION;
  readonly resource: FhirResource;
  readonly provenance: Provenance;
  readonly labels: readonly string[];
  /** Indexed business identifiers (system + value). */
  readonly identifiers: readonly Identifier[];
  /** Canonical Patient id this record is about, when there is one. */
  readonly patientId?: string;
  /** What the record was matched on, and in which identity domain (see RecordInput). */
  readonly matchKeys?: readonly Identifier[];
  readonly identityDomain?: string;
  readonly lastUpdated: string;
  /** Participants (other than the provenance participant) the record was routed to. */
  readonly sharedWith: readonly string[];
}

/** What a normalizer or API hands the store; id, version and lastUpdated are the store's job. */
export interface RecordInput {
  /** Existing record id to update; omitted means: match by identifiers of the same type, else create. */
  id?: string;
  resourceType: string;
  resource: FhirResource;
  provenance: Provenance;
  labels?: readonly string[];
  identifiers: readonly Identifier[];
  /**
   * Identifiers that prove this is the same entity as an earlier record of the same type (the store
   * matches only on these, within the writer's identity domain). Omitted: `identifiers` are used.
   * Empty: never matched (re-normalizing the same raw still lands on the same record).
   */
  matchKeys?: readonly Identifier[];
  /**
   * Whose records a match may update: the writing participant's (default) or a shared identity
   * domain the admin configured (e.g. a hospital group's MPI). Never widened by a normalizer.
   */
  identityDomain?: string;
  /**
   * `keep`: create only if absent (FHIR conditional create). A record its match keys find is the
   * answer, as it is (`unchanged`, its id and version), and nothing is written; when they find
   * several, the oldest id is the answer. Default `update`.
   */
  onMatch?: 'update' | 'keep';
  /**
   * With `id`: write only if the record's latest version is this one (FHIR `If-Match`). Otherwise
   * nothing is written and the result is `unchanged` with `stale: true` and the latest version.
   */
  ifVersion?: number;
  patientId?: string;
  sharedWith?: readonly string[];
}

/**
 * `conflict`: the input matched an existing record it may not update (the record is about another
 * patient, or its match keys name two different records): a new record was created instead, the
 * existing one is untouched, and an identity conflict was opened for an admin.
 */
export type PutRecordResult = {
  status: 'created' | 'updated' | 'unchanged'; id: string; version: number;
  /** The input named a version (ifVersion) that is no longer the latest: nothing was written. */
  stale?: true;
  conflict?: { id: string; existingIds: string[]; reason: IdentityConflictReason };
};

/**
 * `same-message`: the record's match keys found a record an earlier record of the SAME message was
 * written to (two records of one message must never merge into one).
 */
export type IdentityConflictReason = 'other-patient' | 'ambiguous-match' | 'same-message';

/** An identity conflict waiting for (or resolved by) an admin. Ids and codes only. */
export interface IdentityConflict {
  id: string;
  resourceType: string;
  reason: IdentityConflictReason;
  /** The record the new data was stored in. */
  recordId: string;
  /** The existing record(s) the input matched and did not update. */
  existingIds: string[];
  rawId: string;
  participant: string;
  openedAt: string;
  status: 'open' | 'linked' | 'kept-separate';
  resolvedBy?: string;
  resolvedAt?: string;
}

export interface QueueItem {
  readonly id: string;
  /** A small JSON-safe payload: ids and codes, never content. */
  readonly payload: Record<string, string | number | boolean>;
}

/** A claimed queue item. Valid until leaseUntil; the token proves ownership. */
export interface Lease {
  readonly queue: string;
  readonly item: QueueItem;
  readonly token: string;
  readonly attempt: number;
  readonly leaseUntil: number;
}

export interface QueueStats {
  /** Items waiting (ready or scheduled for retry), not counting in-flight or dead. */
  depth: number;
  inFlight: number;
  dead: number;
  /** Age in ms of the oldest waiting item; 0 when empty. */
  oldestAgeMs: number;
}

export interface AuditEvent {
  action: string;
  actor: string;
  /** Ids and codes only. */
  subject?: string;
  detail?: Record<string, string | number | boolean>;
}

export interface AuditEntry extends AuditEvent {
  seq: number;
  at: string;
  prevHash: string;
  hash: string;
}
