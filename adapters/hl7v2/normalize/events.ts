import type { FhirResource, Identifier } from '../../../gateway/core/types.js';
import { scoped, type Subject } from './clinical.js';
import { localRef, type Builder } from './context.js';
import { compact, cwe } from './datatypes.js';
import { toDateTime } from './datetime.js';

/**
 * PDA-1 death cause → Condition (one per repetition), so a cause of death sent in ADT is kept as
 * a coded clinical fact rather than reported unmapped.
 */
export function mapDeathCauses(b: Builder, s: Subject): void {
  for (const pda of scoped(b, s, 'PDA')) {
    pda.all(1).forEach((c, i) => {
      const code = cwe(c);
      if (!code) return;
      const ref = `condition-pda-${pda.occurrence}-${i + 1}`;
      const resource: FhirResource = compact({
        resourceType: 'Condition',
        category: [{ text: 'cause of death' }],
        code,
        subject: s.patientRef ? localRef(s.patientRef) : undefined,
        encounter: s.encounterRef ? localRef(s.encounterRef) : undefined,
        recordedDate: toDateTime(pda.get(4)),
      });
      b.add({ localRef: ref, resource, location: pda.loc, identifiers: [b.messageIdentifier(ref)], ...(s.patientRef ? { patientRef: s.patientRef } : {}), sources: [pda] });
    });
  }
}

/**
 * ACC → Observation "Injury incident description" (LOINC 11374-6, as in the HL7 death-reporting
 * IG): ACC-8 description (else ACC-2 code text) as the value, ACC-1 as the effective time.
 */
export function mapAccidents(b: Builder, s: Subject): void {
  for (const acc of scoped(b, s, 'ACC')) {
    const ref = `obs-acc-${acc.occurrence}`;
    const text = acc.get(8) || acc.get(2, 1, 2) || acc.get(2);
    const id = acc.get(13);
    const identifier: Identifier[] = id ? [{ system: b.fallbackSystem('accident'), value: id }] : [];
    const resource: FhirResource = compact({
      resourceType: 'Observation',
      identifier,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '11374-6', display: 'Injury incident description Narrative' }] },
      subject: s.patientRef ? localRef(s.patientRef) : undefined,
      encounter: s.encounterRef ? localRef(s.encounterRef) : undefined,
      effectiveDateTime: toDateTime(acc.get(1)),
      valueString: text || undefined,
      note: acc.get(3) ? [{ text: acc.get(3) }] : undefined,
      component: acc.get(2) ? [{ code: { text: 'accident code' }, valueCodeableConcept: cwe(acc.comp(2)) }] : undefined,
    });
    b.add({ localRef: ref, resource, location: acc.loc, identifiers: identifier.length ? identifier : [b.messageIdentifier(ref)], ...(s.patientRef ? { patientRef: s.patientRef } : {}), sources: [acc] });
  }
}
