import type { Builder } from './context.js';
import { tableCode, xad, xpn, type Json } from './datatypes.js';
import type { SegReader } from './reader.js';

/** What segments other than PID say about the patient themself. */
export interface SelfFacts {
  identifiers: Json[];
  names: Json[];
  addresses: Json[];
  /** Segments read here, reported on the Patient record. */
  sources: SegReader[];
}

const SELF = new Set(['SEL', 'SELF', '01']);

/** IN2 insured-person numbers: field, identifier type (table 0203), well-known system. */
const INSURED_IDS: ReadonlyArray<[number, string, string | undefined]> = [
  [6, 'MC', 'http://hl7.org/fhir/sid/us-medicare'], [8, 'MA', undefined], [10, 'MI', undefined],
];

/**
 * Patient facts carried by other segments, only where the segment says the person is the patient:
 * GT1 with GT1-11 relationship SEL (the patient is their own guarantor: GT1-2 number, GT1-3 name,
 * GT1-5 address, GT1-12 SSN), DB1 with DB1-2 = PT (DB1-3 disabled person identifier), IN2-61
 * patient member number (IN2 names it the patient's), and IN2-6/8/10 when IN1-17 is SEL. Other
 * persons' data is never merged in.
 */
export function selfFacts(b: Builder, segs: readonly SegReader[]): SelfFacts {
  const out: SelfFacts = { identifiers: [], names: [], addresses: [], sources: [] };
  for (const gt1 of segs.filter((s) => s.name === 'GT1')) {
    if (!SELF.has(gt1.get(11).toUpperCase())) continue;
    out.sources.push(gt1);
    gt1.consume(1);
    for (const c of gt1.all(2)) {
      const id = b.cx(c);
      if (id) out.identifiers.push(id);
    }
    const ssn = gt1.get(12);
    if (ssn) out.identifiers.push({ system: 'http://hl7.org/fhir/sid/us-ssn', value: ssn, type: tableCode('SS', '0203') });
    out.names.push(...gt1.all(3).map(xpn).filter((x): x is Json => x !== undefined));
    out.addresses.push(...gt1.all(5).map(xad).filter((x): x is Json => x !== undefined));
  }
  for (const db1 of segs.filter((s) => s.name === 'DB1')) {
    if (db1.get(2).toUpperCase() !== 'PT') continue;
    db1.consume(1);
    out.sources.push(db1);
    for (const c of db1.all(3)) {
      const id = b.cx(c);
      if (id) out.identifiers.push(id);
    }
  }
  segs.forEach((in2, i) => {
    if (in2.name !== 'IN2') return;
    out.identifiers.push(...in2.all(61).map((c) => b.cx(c)).filter((x) => x !== undefined));
    // IN2-6/8/10 number the insured person: they are the patient's only when IN1-17 says the
    // patient is the insured (SEL).
    const in1 = segs.slice(0, i).reverse().find((x) => x.name === 'IN1');
    if (!in1 || !SELF.has(in1.get(17).toUpperCase())) return;
    for (const [field, type, system] of INSURED_IDS) {
      const value = in2.get(field);
      if (value) out.identifiers.push({ system: system ?? b.fallbackSystem(type), value, type: tableCode(type, '0203') });
    }
  });
  return out;
}
