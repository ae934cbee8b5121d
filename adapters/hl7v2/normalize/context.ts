import { codeProblemsIn } from '../../../gateway/terminology/coding-check.js';
import { LOCAL_REF_PREFIX, type NormalizedRecord } from '../../../gateway/core/ports.js';
import type { Issue } from '../../../gateway/core/issues.js';
import type { FhirResource, Identifier, RawMessage } from '../../../gateway/core/types.js';
import { compact, datePeriod, hdSystem, tableCode, token, type Json } from './datatypes.js';
import { identityRules, type Hl7v2IdentityOptions, type IdentityRules } from './identity.js';
import { localTimes } from './local-time.js';
import type { Comp, MessageReader, SegReader } from './reader.js';

/** EI kinds that are codes of HL7 table 0203 (identifier type). */
const IDENTIFIER_TYPES = new Set(['PLAC', 'FILL', 'PGN', 'ACSN', 'VN', 'MR']);

/** A record under construction: the resource plus the segments it came from. */
export interface Draft {
  localRef: string;
  resource: FhirResource;
  /** Provenance location, e.g. `OBX[3]`. */
  location: string;
  identifiers: Identifier[];
  /**
   * What the store may match this record on (see identity.ts); omitted: none (`[]`), so only
   * identifiers the mapper vouches for ever merge two records.
   */
  matchKeys?: Identifier[];
  patientRef?: string;
  /** Segments this record maps; their unread fields are reported on this record. */
  sources: SegReader[];
}

/** A FHIR Reference to another record of the same message. */
export function localRef(ref: string, display?: string): Json {
  return compact({ reference: LOCAL_REF_PREFIX + ref, display });
}

/**
 * State of one normalization: the message reader, the records built so far and the issues.
 * Family modules add drafts; {@link Builder.finish} attaches provenance and coverage.
 */
export class Builder {
  readonly r: MessageReader;
  readonly raw: RawMessage;
  readonly mapping: string;
  readonly issues: Issue[] = [];
  readonly drafts: Draft[] = [];
  /** MSH-9.2 trigger event, e.g. `A01`. */
  readonly event: string;
  /** MSH-10. */
  readonly controlId: string;
  /** Sending facility token for fallback identifier systems. */
  readonly facility: string;
  private readonly practitioners = new Map<string, string>();

  /** IANA zone for times sent without an offset (see local-time.ts). */
  private readonly timeZone: string | undefined;
  /** The feed's identity trust rules (which identifiers become match keys). */
  readonly identity: IdentityRules;

  constructor(r: MessageReader, raw: RawMessage, family: string, options: { timeZone?: string | undefined; identity?: Hl7v2IdentityOptions | undefined } = {}) {
    this.r = r;
    this.timeZone = options.timeZone;
    this.identity = identityRules(options.identity);
    this.raw = raw;
    this.mapping = `hl7v2-${family}@1`;
    const msh = r.segments[0]!;
    this.event = msh.get(9, 1, 2).toUpperCase();
    this.controlId = msh.get(10);
    this.facility = token(msh.get(4, 1, 1) || msh.get(4, 1, 2) || msh.get(3, 1, 1) || 'unknown');
    msh.consume(9, 10);
  }

  /**
   * Add a record; localRefs are made unique within the message. When a name had to change, a
   * message identifier built from the requested name follows it, so two records never share one.
   */
  add(d: Draft): string {
    let ref = d.localRef;
    for (let i = 2; this.drafts.some((x) => x.localRef === ref); i++) ref = `${d.localRef}-${i}`;
    let identifiers = d.identifiers;
    if (ref !== d.localRef) {
      const msg = this.messageIdentifier(d.localRef);
      identifiers = identifiers.map((id) =>
        id.system === msg.system && (id.value === msg.value || id.value.startsWith(`${msg.value}.`))
          ? { system: id.system, value: this.messageIdentifier(ref).value + id.value.slice(msg.value.length) }
          : id);
    }
    this.drafts.push({ ...d, localRef: ref, identifiers });
    return ref;
  }

  /** Record a data problem: location and rule only, never the value. */
  issue(severity: Issue['severity'], code: Issue['code'], where: string, message: string): void {
    this.issues.push({ severity, code, where, message });
  }

  /**
   * Fallback identifier system when the message names no assigning authority: deterministic per
   * sending facility and identifier type, so the same sender's ids still match across messages.
   */
  fallbackSystem(type: string): string {
    return `urn:passerelle:id:${this.facility}:${token(type || 'id')}`;
  }

  /** Identifier that versions a record on re-send: MSH-10 plus the record's place in the message. */
  messageIdentifier(localRefName: string): Identifier {
    return { system: `urn:passerelle:msg:${this.facility}`, value: `${this.controlId}/${localRefName}` };
  }

  /**
   * CX → FHIR Identifier (CX-1 value, CX-4 authority → system, CX-5 type, CX-7/8 validity).
   * Every identifier gets a system: CX-4 when given, else {@link fallbackSystem} by CX-5 type.
   */
  cx(c: Comp): (Json & Identifier) | undefined {
    const value = c.c(1);
    if (!value) return undefined;
    const type = c.c(5);
    const system = hdSystem(c.c(4, 1), c.c(4, 2), c.c(4, 3)) ?? this.fallbackSystem(type);
    return compact({ system, value, type: tableCode(type, '0203'), period: datePeriod(c.c(7), c.c(8)) }) as Json & Identifier;
  }

  /**
   * EI (entity id, namespace, universal id, type) → Identifier; `kind` (PLAC/FILL/…) is the
   * identifier type and names the fallback system.
   */
  ei(c: Comp, kind: string): (Json & Identifier) | undefined {
    const value = c.c(1);
    if (!value) return undefined;
    const system = hdSystem(c.c(2), c.c(3), c.c(4)) ?? this.fallbackSystem(kind);
    // Only real table 0203 codes become the identifier type; other kinds just name the system.
    const type = IDENTIFIER_TYPES.has(kind) ? tableCode(kind, '0203') : undefined;
    return compact({ system, value, type }) as Json & Identifier;
  }

  /**
   * XCN → Reference. With an ID number a Practitioner record is added once per message (matched
   * across messages by its identifier); without one only a display reference is returned, because
   * a name alone would create a new Practitioner on every message.
   */
  practitioner(c: Comp, source: SegReader): Json | undefined {
    if (!c.valued) return undefined;
    const display = [c.c(6), c.c(3), c.c(4), c.c(2, 1), c.c(5)].filter(Boolean).join(' ');
    const id = c.c(1);
    if (!id) return display ? { display } : undefined;
    const system = hdSystem(c.c(9, 1), c.c(9, 2), c.c(9, 3)) ?? this.fallbackSystem(c.c(13) || 'practitioner');
    const key = `${system}|${id}`;
    const known = this.practitioners.get(key);
    if (known) return localRef(known, display || undefined);
    const name = compact({
      family: c.c(2, 1),
      given: [c.c(3), c.c(4)].filter(Boolean),
      prefix: c.c(6) ? [c.c(6)] : undefined,
      suffix: [c.c(5), c.c(7)].filter(Boolean),
    });
    const resource: FhirResource = compact({
      resourceType: 'Practitioner',
      identifier: [compact({ system, value: id, type: tableCode(c.c(13), '0203') })],
      name: Object.keys(name).length ? [name] : undefined,
    });
    const ref = this.add({ localRef: `practitioner-${this.practitioners.size + 1}`, resource, location: source.loc, identifiers: [{ system, value: id }], matchKeys: [{ system, value: id }], sources: [] });
    this.practitioners.set(key, ref);
    return localRef(ref, display || undefined);
  }

  /**
   * Final records with provenance. Each segment's unread populated fields are reported on the
   * first record that lists it as a source; segments no record claims (SFT, Z-segments, NTE we do
   * not map…) are reported on the first record, so nothing is dropped silently.
   */
  finish(): NormalizedRecord[] {
    const owner = new Map<SegReader, number>();
    this.drafts.forEach((d, i) => d.sources.forEach((s) => owner.has(s) || owner.set(s, i)));
    const stats = this.drafts.map(() => ({ populated: 0, mapped: 0, unmapped: [] as string[] }));
    if (stats.length === 0) return [];
    for (const s of this.r.segments) {
      const st = stats[owner.get(s) ?? 0]!;
      const { populated, read } = s.coverage();
      st.populated += populated.length;
      st.mapped += read.length;
      const seen = new Set(read);
      for (const f of populated) if (!seen.has(f)) st.unmapped.push(s.where(f));
    }
    let local = 0;
    for (const d of this.drafts) {
      local += localTimes(d.resource, this.timeZone);
      // A LOINC, SNOMED CT, ICD-10 or CCAM code (or an INS) that is not well-formed is kept as sent, with a warning.
      for (const p of codeProblemsIn(d.resource, d.resource.resourceType)) this.issue('warning', 'code-invalid', d.location, `${p.message} (${p.where})`);
    }
    if (local > 0 && !this.timeZone) {
      this.issue('warning', 'value', 'message', `${local} date-times carry no UTC offset and no time zone is configured for the feed; they are kept as sender-local times`);
    }
    const matchKeys = this.distinctMatchKeys();
    const receivedAt = this.raw.receivedAt.toISOString();
    return this.ordered().map((i) => {
      const d = this.drafts[i]!;
      const st = stats[i]!;
      const rec: NormalizedRecord = {
        localRef: d.localRef,
        resourceType: d.resource.resourceType,
        resource: d.resource,
        identifiers: d.identifiers,
        matchKeys: matchKeys[i]!,
        provenance: {
          feed: this.raw.feed,
          participant: this.raw.participant,
          rawId: this.raw.id,
          location: d.location,
          mapping: this.mapping,
          receivedAt,
          unmapped: st.unmapped,
          coverage: { populated: st.populated, mapped: st.mapped },
        },
      };
      if (d.patientRef) rec.patientRef = d.patientRef;
      return rec;
    });
  }

  /**
   * Match keys per draft, made distinct within the message: two records of one type that would
   * share a key (20 OBR under one placer number, two RDS orders with one ORC-2) are different
   * entities by the IG, so each such key gets the record's localRef appended (deterministic, so a
   * re-sent message still lands on the same records). Patients sharing a key are one person (BAR
   * repeating a patient for each account), so theirs are left as they are.
   */
  private distinctMatchKeys(): Identifier[][] {
    const count = new Map<string, number>();
    const keyOf = (d: Draft, k: Identifier): string => `${d.resource.resourceType}\u0000${k.system}\u0000${k.value}`;
    for (const d of this.drafts) for (const k of d.matchKeys ?? []) count.set(keyOf(d, k), (count.get(keyOf(d, k)) ?? 0) + 1);
    return this.drafts.map((d) => (d.matchKeys ?? []).map((k) =>
      (count.get(keyOf(d, k)) ?? 0) > 1 && d.resource.resourceType !== 'Patient'
        ? { system: k.system, value: `${k.value}#${d.localRef}` }
        : { system: k.system, value: k.value }));
  }

  /**
   * Draft indices ordered so every record comes after the records it references (the worker
   * stores in order and can only rewrite references to records already stored). Depth-first in
   * message order: a referenced record moves just ahead of its first referrer, the rest keep
   * their order. A cycle cannot be ordered: it is reported and the back reference left as is.
   */
  private ordered(): number[] {
    const index = new Map(this.drafts.map((d, i) => [d.localRef, i]));
    const deps = this.drafts.map((d, self) => {
      const out: number[] = [];
      const text = JSON.stringify(d.resource);
      for (let at = text.indexOf(LOCAL_REF_PREFIX); at !== -1; at = text.indexOf(LOCAL_REF_PREFIX, at + 1)) {
        const target = index.get(text.slice(at + LOCAL_REF_PREFIX.length, text.indexOf('"', at)));
        if (target !== undefined && target !== self) out.push(target);
      }
      return out;
    });
    const state = new Uint8Array(this.drafts.length); // 0 new, 1 in progress, 2 done
    const order: number[] = [];
    let cycle = false;
    const visit = (i: number): void => {
      if (state[i] === 2) return;
      if (state[i] === 1) {
        cycle = true;
        return;
      }
      state[i] = 1;
      for (const t of deps[i]!) visit(t);
      state[i] = 2;
      order.push(i);
    };
    for (let i = 0; i < this.drafts.length; i++) visit(i);
    if (cycle) this.issue('warning', 'invariant', 'message', 'records of this message reference each other in a cycle');
    return order;
  }
}
