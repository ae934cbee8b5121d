import type { FhirResource, Identifier } from '../../../gateway/core/types.js';
import { localRef, type Builder } from './context.js';
import { compact, cwe, period, tableCode, type Json } from './datatypes.js';
import { firstIn, patientGroups, type PatientGroup } from './groups.js';
import { isPlaceholder } from './identity.js';
import type { Comp, SegReader } from './reader.js';
import { ENCOUNTER_CLASS, ENCOUNTER_STATUS_BY_CLASS, ENCOUNTER_STATUS_BY_EVENT, PV1_PARTICIPANTS } from './tables.js';

/** Events that cancel a discharge: the PV1-45 still sent is the date being cancelled. */
const CANCELS_DISCHARGE = new Set(['A13', 'A25']);

/**
 * PV1 (+ PV2) → Encounter. Skipped when PV1 carries no visit (class N / empty, no visit number,
 * no dates), as person-update messages (A28, A31) often send an empty PV1.
 * @returns the Encounter localRef, or undefined
 */
export function mapEncounter(b: Builder, patientRef: string | undefined, g: PatientGroup = patientGroups(b)[0]!): string | undefined {
  const pv1 = firstIn(g, 'PV1');
  if (!pv1) return undefined;
  const pv2 = firstIn(g, 'PV2');
  pv1.consume(1);
  const cls = pv1.get(2).toUpperCase();
  const visit = [...pv1.all(19), ...pv1.all(50)].map((c) => b.cx(c)).filter((x) => x !== undefined);
  const start = pv1.get(44) || pv2?.get(8) || '';
  let end = pv1.get(45) || pv2?.get(9) || '';
  if ((cls === '' || cls === 'N') && visit.length === 0 && !start) return undefined;
  if (CANCELS_DISCHARGE.has(b.event)) end = '';

  const c = ENCOUNTER_CLASS[cls];
  const resource: FhirResource = compact({
    resourceType: 'Encounter',
    identifier: visit,
    status: status(b, pv1, cls, end),
    class: c
      ? { system: c.v3 ? 'http://terminology.hl7.org/CodeSystem/v3-ActCode' : 'http://terminology.hl7.org/CodeSystem/v2-0004', code: c.code, display: c.display }
      : { system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor', code: 'UNK', display: 'unknown' },
    type: [tableCode(pv1.get(4), '0007')].filter(Boolean),
    serviceType: tableCode(pv1.get(10), '0069'),
    priority: pv2 ? tableCode(pv2.get(25), '0217') : undefined,
    subject: patientRef ? localRef(patientRef) : undefined,
    participant: participants(b, pv1),
    period: period(start, end),
    reasonCode: pv2 ? [cwe(pv2.comp(3))].filter(Boolean) : [],
    hospitalization: compact({
      preAdmissionIdentifier: b.cx(pv1.comp(5)),
      admitSource: tableCode(pv1.get(14), '0023'),
      reAdmission: tableCode(pv1.get(13), '0092'),
      dietPreference: [cwe(pv1.comp(38))].filter(Boolean),
      dischargeDisposition: tableCode(pv1.get(36), '0112'),
    }),
    location: [
      location(pv1.comp(3), 'active'),
      location(pv1.comp(11), 'active'),
      location(pv1.comp(6), 'completed'),
      location(pv1.comp(42), 'planned'),
      location(pv1.comp(43), 'completed'),
    ].filter(Boolean),
  });
  if (start && !resource['period']) b.issue('warning', 'value', pv1.where(44), 'PV1-44 is not a valid HL7 DTM; period left empty');
  const identifiers: Identifier[] = visit.length
    ? visit.map(({ system, value }) => ({ system, value }))
    : [b.messageIdentifier(g.encounterRef)];
  return b.add({
    localRef: g.encounterRef,
    resource,
    location: pv1.loc,
    identifiers,
    matchKeys: visitKeys(b, pv1),
    ...(patientRef ? { patientRef } : {}),
    sources: pv2 ? [pv1, pv2] : [pv1],
  });
}

/**
 * PV1-19 visit number → match key, system from its assigning authority (CX-4) or else from the
 * sending facility (MSH-4), which is who assigns visit numbers. PV1-50 (alternate visit id) and
 * placeholders never match.
 */
function visitKeys(b: Builder, pv1: SegReader): Identifier[] {
  return pv1.all(19).map((c) => b.cx(c)).filter((x) => x !== undefined && !isPlaceholder(x.value)).map((x) => ({ system: x!.system, value: x!.value }));
}

/** Trigger event first (A03 discharge…), then a discharge date, then the patient class. */
function status(b: Builder, pv1: SegReader, cls: string, end: string): string {
  const byEvent = b.r.segments[0]!.get(9, 1, 1).toUpperCase() === 'ADT' ? ENCOUNTER_STATUS_BY_EVENT[b.event] : undefined;
  if (byEvent) return byEvent;
  if (end && pv1.get(45)) return 'finished';
  return ENCOUNTER_STATUS_BY_CLASS[cls] ?? 'unknown';
}

function participants(b: Builder, pv1: SegReader): Json[] {
  const out: Json[] = [];
  for (const p of PV1_PARTICIPANTS) {
    for (const c of pv1.all(p.field)) {
      const individual = b.practitioner(c, pv1);
      if (!individual) continue;
      out.push({
        type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: p.code, display: p.display }] }],
        individual,
      });
    }
  }
  return out;
}

/**
 * PL → Encounter.location with a display (point of care, room, bed, facility): locations are not
 * records of their own here, since PL rarely carries an identifier to match on.
 */
function location(c: Comp, status: string): Json | undefined {
  if (!c.valued) return undefined;
  const display = [c.c(4, 1), c.c(7), c.c(8), c.c(1, 1), c.c(2, 1), c.c(3, 1)].filter(Boolean).join(' ');
  return display ? { location: { display }, status } : undefined;
}
