import type { FhirResource, Identifier } from '../../../gateway/core/types.js';
import type { Subject } from './clinical.js';
import { mapCommon } from './common.js';
import { localRef, type Builder } from './context.js';
import { compact, cwe, cweTable, num, quantity, type Json } from './datatypes.js';
import { toDateTime } from './datetime.js';
import { mapObservation } from './observation.js';
import { KEY_SYSTEM } from './identity.js';
import { orderKey, requestStatus } from './order-request.js';
import { groupOrders, type OrderGroup } from './orders.js';
import type { SegReader } from './reader.js';

/**
 * RDE^O11/O25 and RDS^O13. Per order: RXO (the order as placed) → MedicationRequest intent
 * `order`; RXE (the pharmacy's encoded order) → MedicationRequest intent `filler-order`, based on
 * the first; RXD → MedicationDispense authorised by them. OBX in the order → Observations.
 */
export function mapPharmacy(b: Builder): void {
  const s = mapCommon(b);
  groupOrders(b.r.segments, false).forEach((g, i) => mapMedicationGroup(b, g, s, i + 1));
}

/**
 * One pharmacy order group (ORC + RXO / RXE / RXD, OBX): the RDE/RDS records above. ORM^O01 uses
 * it too for its RXO orders (IG: RXO → MedicationRequest).
 * @param n - position of the order in the message (names the localRefs)
 */
export function mapMedicationGroup(b: Builder, g: OrderGroup, s: Subject, n: number): void {
  const rxo = g.extra.find((x) => x.name === 'RXO');
  const rxe = g.extra.find((x) => x.name === 'RXE');
  const rxr = g.extra.find((x) => x.name === 'RXR');
  const placed = rxo ? request(b, g, s, { seg: rxo, n, kind: 'rxo', route: rxr }) : undefined;
  const encoded = rxe ? request(b, g, s, { seg: rxe, n, kind: 'rxe', route: rxr, basedOn: placed }) : undefined;
  for (const rxd of g.extra.filter((x) => x.name === 'RXD')) dispense(b, rxd, s, encoded ?? placed, rxr);
  for (const item of g.obx) mapObservation(b, item.obx, { patientRef: s.patientRef, encounterRef: s.encounterRef, notes: item.notes, basedOn: encoded ?? placed });
  if (!rxo && !rxe && !g.extra.some((x) => x.name === 'RXD') && (g.orc || g.obr)) b.issue('warning', 'required', (g.orc ?? g.obr)!.loc, 'order without RXO, RXE or RXD: no medication to map');
}

interface RequestInput { seg: SegReader; n: number; kind: 'rxo' | 'rxe'; route: SegReader | undefined; basedOn?: string | undefined }

/** RXO or RXE → MedicationRequest. Field numbers differ: RXO-1 vs RXE-2 for the drug, etc. */
function request(b: Builder, g: OrderGroup, s: Subject, p: RequestInput): string {
  const rxe = p.kind === 'rxe';
  const seg = p.seg;
  if (rxe) seg.consume(1);
  const f = rxe
    ? { code: 2, min: 3, max: 4, units: 5, form: 6, instr: 7, dispQty: 10, dispUnits: 11, refills: 12, substitution: 9 }
    : { code: 1, min: 2, max: 3, units: 4, form: 5, instr: 6, dispQty: 11, dispUnits: 12, refills: 13, substitution: 9 };
  const placer = g.orc ? b.ei(g.orc.comp(2), 'PLAC') : undefined;
  const filler = g.orc ? b.ei(g.orc.comp(3), 'FILL') : undefined;
  const ref = `medicationrequest-${p.kind}-${p.n}`;
  // Distinct store identifiers: the placed order versions on the placer number, the encoded one on
  // the filler number, so the two records never overwrite each other.
  const own = rxe ? filler : placer;
  const min = num(seg.get(f.min));
  const dispQty = num(seg.get(f.dispQty));
  const refills = num(seg.get(f.refills));
  const code = cwe(seg.comp(f.code));
  if (!code) b.issue('warning', 'required', seg.where(f.code), `${seg.where(f.code)} medication code is empty`);
  const resource: FhirResource = compact({
    resourceType: 'MedicationRequest',
    identifier: [placer, filler].filter(Boolean),
    status: requestStatus(g, 'active'),
    intent: rxe ? 'filler-order' : 'order',
    medicationCodeableConcept: code ?? { text: 'unknown' },
    subject: s.patientRef ? localRef(s.patientRef) : undefined,
    encounter: s.encounterRef ? localRef(s.encounterRef) : undefined,
    authoredOn: g.orc ? toDateTime(g.orc.get(9)) : undefined,
    requester: g.orc?.all(12).map((c) => b.practitioner(c, g.orc!)).find(Boolean),
    basedOn: p.basedOn ? [localRef(p.basedOn)] : undefined,
    dosageInstruction: [compact({
      text: seg.all(f.instr).map((c) => c.c(2) || c.c(1)).filter(Boolean).join('; ') || undefined,
      route: p.route ? cweTable(p.route.comp(1), '0162') : undefined,
      site: p.route ? cweTable(p.route.comp(2), '0163') : undefined,
      doseAndRate: min === undefined ? undefined : [{ doseQuantity: quantity(min, seg.comp(f.units)) }],
    })].filter((d) => Object.keys(d).length),
    dispenseRequest: compact({
      quantity: dispQty === undefined ? undefined : quantity(dispQty, seg.comp(f.dispUnits)),
      numberOfRepeatsAllowed: refills !== undefined && Number.isInteger(refills) && refills >= 0 ? refills : undefined,
    }),
    substitution: seg.get(f.substitution) ? { allowedBoolean: seg.get(f.substitution).toUpperCase() !== 'N' } : undefined,
  });
  const ids: Identifier[] = own ? [{ system: own.system, value: own.value }] : [b.messageIdentifier(ref)];
  const sources = [seg, ...(g.orc && !rxe ? [g.orc, ...g.tq1] : []), ...(p.route && !rxe ? [p.route] : [])];
  // The placed and the encoded order are two records: their keys live in different systems.
  const matchKeys = orderKey(b, g, rxe ? KEY_SYSTEM.fillerOrder : KEY_SYSTEM.order);
  return b.add({ localRef: ref, resource, location: seg.loc, identifiers: ids, matchKeys, ...(s.patientRef ? { patientRef: s.patientRef } : {}), sources });
}

/** RXD → MedicationDispense (status completed: RXD reports a dispense that happened). */
function dispense(b: Builder, rxd: SegReader, s: Subject, prescription: string | undefined, rxr: SegReader | undefined): string {
  rxd.consume(1);
  const ref = `medicationdispense-${rxd.occurrence}`;
  const amount = num(rxd.get(4));
  const rxNumber = rxd.get(7);
  const performer = rxd.all(10).map((c) => b.practitioner(c, rxd)).find(Boolean);
  const resource: FhirResource = compact({
    resourceType: 'MedicationDispense',
    identifier: rxNumber ? [{ system: b.fallbackSystem('prescription'), value: rxNumber }] : undefined,
    status: 'completed',
    medicationCodeableConcept: cwe(rxd.comp(2)) ?? { text: 'unknown' },
    subject: s.patientRef ? localRef(s.patientRef) : undefined,
    context: s.encounterRef ? localRef(s.encounterRef) : undefined,
    performer: performer ? [{ actor: performer }] : undefined,
    authorizingPrescription: prescription ? [localRef(prescription)] : undefined,
    quantity: amount === undefined ? undefined : quantity(amount, rxd.comp(5)),
    whenHandedOver: toDateTime(rxd.get(3)),
    dosageInstruction: rxd.get(9) || rxr ? [compact({ text: rxd.get(9) || undefined, route: rxr ? cwe(rxr.comp(1)) : undefined }) as Json] : undefined,
  });
  return b.add({ localRef: ref, resource, location: rxd.loc, identifiers: [b.messageIdentifier(ref)], ...(s.patientRef ? { patientRef: s.patientRef } : {}), sources: [rxd] });
}
