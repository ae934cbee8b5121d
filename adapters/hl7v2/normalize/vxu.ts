import type { FhirResource, Identifier } from '../../../gateway/core/types.js';
import type { Subject } from './clinical.js';
import { mapCommon, mapLooseObservations } from './common.js';
import { localRef, type Builder } from './context.js';
import { codeSystem, compact, cwe, cweTable, num, quantity, type CodeableConcept, type Json } from './datatypes.js';
import { toDate, toDateTime } from './datetime.js';
import { mapObservation } from './observation.js';
import { orderIdentifiers, orderKey, storeIds } from './order-request.js';
import { groupOrders, type OrderGroup } from './orders.js';
import type { SegReader } from './reader.js';
import { IMMUNIZATION_STATUS } from './tables.js';

/**
 * VXU^V04 → Immunization per RXA (with its RXR route and site), plus the OBX observations reported
 * with it (funding eligibility, VIS…) and the shared Patient/Encounter/Coverage records.
 */
export function mapVaccination(b: Builder): void {
  const s = mapCommon(b);
  const claimed = new Set<SegReader>();
  groupOrders(b.r.segments, false).forEach((g, i) => {
    const rxas = g.extra.filter((x) => x.name === 'RXA');
    rxas.forEach((rxa, k) => mapImmunization(b, g, rxa, s, rxas.length > 1 ? (i + 1) * 100 + k : i + 1));
    if (rxas.length === 0) return;
    for (const item of g.obx) {
      claimed.add(item.obx);
      mapObservation(b, item.obx, { patientRef: s.patientRef, encounterRef: s.encounterRef, notes: item.notes });
    }
  });
  if (!b.r.seg('RXA')) b.issue('error', 'required', 'RXA', 'RXA segment is required in a vaccination message');
  mapLooseObservations(b, s, claimed);
}

function mapImmunization(b: Builder, g: OrderGroup, rxa: SegReader, s: Subject, index: number): string {
  rxa.consume(1, 2);
  const ref = `immunization-${index}`;
  const rxr = g.extra.find((x) => x.name === 'RXR');
  const identifier = orderIdentifiers(b, g);
  const completion = rxa.get(20).toUpperCase();
  const deleted = rxa.get(21).toUpperCase() === 'D';
  const amount = num(rxa.get(6));
  const occurrence = toDateTime(rxa.get(3));
  if (!occurrence) b.issue('error', 'required', rxa.where(3), 'RXA-3 administration date is missing or not a valid HL7 DTM');
  const notes = rxa.all(9).map(cwe).filter((x): x is CodeableConcept => x !== undefined);
  const historical = rxa.all(9).some((c) => c.c(1) === '01');
  const manufacturer = rxa.comp(17);
  const performers: Json[] = [];
  const ap = rxa.all(10).map((c) => b.practitioner(c, rxa)).find(Boolean);
  if (ap) performers.push({ function: fn('AP', 'Administering Provider'), actor: ap });
  const op = g.orc?.all(12).map((c) => b.practitioner(c, g.orc!)).find(Boolean);
  if (op) performers.push({ function: fn('OP', 'Ordering Provider'), actor: op });
  const resource: FhirResource = compact({
    resourceType: 'Immunization',
    identifier,
    status: deleted ? 'entered-in-error' : IMMUNIZATION_STATUS[completion] ?? 'completed',
    statusReason: cwe(rxa.comp(18)),
    vaccineCode: cwe(rxa.comp(5)) ?? { text: 'unknown' },
    patient: s.patientRef ? localRef(s.patientRef) : undefined,
    encounter: s.encounterRef ? localRef(s.encounterRef) : undefined,
    occurrenceDateTime: occurrence,
    primarySource: rxa.all(9).length ? !historical : undefined,
    reportOrigin: historical ? notes[0] : undefined,
    location: rxa.get(11, 1, 4) || rxa.get(27, 1, 1) ? { display: rxa.get(11, 1, 4) || rxa.get(27, 1, 1) } : undefined,
    manufacturer: manufacturer.valued ? compact({ display: manufacturer.c(2) || manufacturer.c(1), identifier: manufacturer.c(1) ? { system: codeSystem(manufacturer.c(3)) ?? b.fallbackSystem('MVX'), value: manufacturer.c(1) } : undefined }) : undefined,
    lotNumber: rxa.get(15) || undefined,
    expirationDate: toDate(rxa.get(16)),
    site: rxr ? cweTable(rxr.comp(2), '0163') : undefined,
    route: rxr ? cweTable(rxr.comp(1), '0162') : undefined,
    // 999 is the v2 "amount unknown" convention (CDC IG), not a dose.
    doseQuantity: amount !== undefined && amount !== 999 ? quantity(amount, rxa.comp(7)) : undefined,
    isSubpotent: completion === 'PA' ? true : undefined,
    performer: performers,
    note: historical ? undefined : notes.filter((n) => n['text']).map((n) => ({ text: n['text'] })),
  });
  const sources = [rxa, ...(rxr ? [rxr] : []), ...(g.orc ? [g.orc] : []), ...g.tq1];
  const ids: Identifier[] = storeIds(b, identifier, ref);
  return b.add({ localRef: ref, resource, location: rxa.loc, identifiers: ids, matchKeys: orderKey(b, g), ...(s.patientRef ? { patientRef: s.patientRef } : {}), sources });
}

function fn(code: string, display: string): Json {
  return { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0443', code, display }] };
}
