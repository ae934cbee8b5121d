import type { FhirResource, Identifier } from '../../../gateway/core/types.js';
import type { Subject } from './clinical.js';
import { localRef, type Builder } from './context.js';
import { compact, cwe, cweTable, quantity, num, type Json } from './datatypes.js';
import { toDateTime } from './datetime.js';
import { compositeKey, KEY_SYSTEM } from './identity.js';
import type { OrderGroup } from './orders.js';
import { nested, type SegReader } from './reader.js';
import { ORDER_CONTROL_STATUS, ORDER_STATUS } from './tables.js';

const PRIORITY: Readonly<Record<string, string>> = { S: 'stat', A: 'asap', R: 'routine', P: 'urgent', C: 'urgent', T: 'urgent' };

/** Placer and filler identifiers of an order: ORC-2/3 first, OBR-2/3 when ORC has none. */
export function orderIdentifiers(b: Builder, g: OrderGroup): Array<Json & Identifier> {
  const pick = (orcField: number, obrField: number, kind: string): (Json & Identifier) | undefined =>
    (g.orc && b.ei(g.orc.comp(orcField), kind)) || (g.obr && b.ei(g.obr.comp(obrField), kind)) || undefined;
  return [pick(2, 2, 'PLAC'), pick(3, 3, 'FILL')].filter((x): x is Json & Identifier => x !== undefined);
}

/**
 * The order's composite match key: placer AND filler numbers (each with its namespace) from this
 * group only, ORC-2/3 and OBR-2/3 both when they differ (two OBR under one ORC-2 with their own
 * OBR-2 are two orders). One present: that one alone. None: no key.
 */
export function orderKey(b: Builder, g: OrderGroup, system: string = KEY_SYSTEM.order): Identifier[] {
  const ei = (s: SegReader | undefined, f: number, kind: string): Identifier | undefined => (s ? b.ei(s.comp(f), kind) : undefined);
  return compositeKey(system, [
    ['PLAC', ei(g.orc, 2, 'PLAC')], ['PLAC', ei(g.obr, 2, 'PLAC')],
    ['FILL', ei(g.orc, 3, 'FILL')], ['FILL', ei(g.obr, 3, 'FILL')],
  ]);
}

/** Request status: ORC-5 order status wins, then ORC-1 order control, then the result status. */
export function requestStatus(g: OrderGroup, fallback: string): string {
  if (!g.orc) return fallback;
  return ORDER_STATUS[g.orc.get(5).toUpperCase()] ?? ORDER_CONTROL_STATUS[g.orc.get(1).toUpperCase()] ?? fallback;
}

/** Store identifiers from FHIR identifiers, else MSH-10 + the record's place in the message. */
export function storeIds(b: Builder, ids: Identifier[], ref: string): Identifier[] {
  return ids.length ? ids.map(({ system, value }) => ({ system, value })) : [b.messageIdentifier(ref)];
}

/** What a ServiceRequest hangs on besides its segments. */
export interface RequestLinks {
  /** Position of the order in the message (names the localRef). */
  index: number;
  /** Status when ORC says nothing (e.g. `completed` for final results). */
  fallbackStatus: string;
  specimens: string[];
  /** Observations sent with the order (OML/ORM OBX). */
  supportingInfo?: string[];
}

/** ORC + OBR (+ TQ1, NTE) → ServiceRequest. */
export function mapServiceRequest(b: Builder, g: OrderGroup, s: Subject, links: RequestLinks): string {
  const { index, fallbackStatus, specimens: specimenRefs } = links;
  const ref = `servicerequest-${index}`;
  const { orc, obr } = g;
  obr?.consume(1);
  for (const n of g.notes) n.consume(1);
  const identifier = orderIdentifiers(b, g);
  const group = orc ? b.ei(orc.comp(4), 'PGN') : undefined;
  const tq1 = g.tq1[0];
  const priority = tq1?.get(9) || obr?.get(5) || orc?.get(7, 1, 6) || '';
  const requesters = [...(orc ? orc.all(12) : []), ...(obr ? obr.all(16) : [])];
  const resource: FhirResource = compact({
    resourceType: 'ServiceRequest',
    identifier,
    requisition: group,
    status: requestStatus(g, fallbackStatus),
    intent: 'order',
    priority: PRIORITY[priority.toUpperCase()],
    code: obr ? cwe(obr.comp(4)) : undefined,
    subject: s.patientRef ? localRef(s.patientRef) : undefined,
    encounter: s.encounterRef ? localRef(s.encounterRef) : undefined,
    occurrenceDateTime: toDateTime(tq1?.get(7) || orc?.get(7, 1, 4) || obr?.get(6) || obr?.get(7) || ''),
    authoredOn: orc ? toDateTime(orc.get(9)) : undefined,
    requester: requesters.map((c) => b.practitioner(c, orc ?? obr!)).find(Boolean),
    reasonCode: obr ? obr.all(31).map(cwe).filter(Boolean) : [],
    specimen: specimenRefs.map((r) => localRef(r)),
    supportingInfo: (links.supportingInfo ?? []).map((r) => localRef(r)),
    note: g.notes.flatMap((n) => n.all(3).map((c) => c.c(1))).filter(Boolean).map((text) => ({ text })),
  });
  if (obr && !resource['code']) b.issue('warning', 'required', obr.where(4), 'OBR-4 universal service identifier is empty');
  const sources = [orc, obr, ...g.tq1, ...g.notes].filter((x): x is SegReader => x !== undefined);
  return b.add({ localRef: ref, resource, location: (obr ?? orc)!.loc, identifiers: storeIds(b, identifier, ref), matchKeys: orderKey(b, g), ...(s.patientRef ? { patientRef: s.patientRef } : {}), sources });
}

/** SPM → Specimen (identifier from SPM-2 placer/filler, type SPM-4, collection SPM-7/8/17, SPM-18 received). */
export function mapSpecimen(b: Builder, spm: SegReader, s: Subject): string {
  spm.consume(1);
  const ref = `specimen-${spm.occurrence}`;
  const id = spm.comp(2);
  const placer = b.ei(nested(id, 1), 'PLAC');
  const filler = b.ei(nested(id, 2), 'FILL');
  const identifier = [placer, filler].filter((x): x is Json & Identifier => x !== undefined);
  const collected = spm.comp(17);
  const start = toDateTime(collected.c(1, 1));
  const end = toDateTime(collected.c(2, 1));
  const qty = spm.comp(12);
  const amount = num(qty.c(1));
  const resource: FhirResource = compact({
    resourceType: 'Specimen',
    identifier,
    status: spm.get(20).toUpperCase() === 'N' ? 'unavailable' : spm.get(20) ? 'available' : undefined,
    type: cweTable(spm.comp(4), '0487'),
    subject: s.patientRef ? localRef(s.patientRef) : undefined,
    receivedTime: toDateTime(spm.get(18)),
    collection: compact({
      method: cweTable(spm.comp(7), '0488'),
      bodySite: cwe(spm.comp(8)),
      collectedPeriod: end && start ? { start, end } : undefined,
      collectedDateTime: end ? undefined : start,
      quantity: amount === undefined ? undefined : quantity(amount, nested(qty, 2)),
    }),
    condition: spm.all(24).map((c) => cweTable(c, '0493')).filter(Boolean),
    note: spm.get(14) ? [{ text: spm.get(14) }] : undefined,
  });
  // SPM-2 placer/filler specimen ids are real identifiers (IG Specimen.identifier).
  const matchKeys = compositeKey(KEY_SYSTEM.specimen, [['PLAC', placer], ['FILL', filler]]);
  return b.add({ localRef: ref, resource, location: spm.loc, identifiers: storeIds(b, identifier, ref), matchKeys, ...(s.patientRef ? { patientRef: s.patientRef } : {}), sources: [spm] });
}

/** OBR-15 specimen source (v2.3–2.6, SPS) → Specimen, when the message has no SPM. */
export function mapObrSpecimen(b: Builder, obr: SegReader, s: Subject): string | undefined {
  const sps = obr.comp(15);
  if (!sps.valued) return undefined;
  const ref = `specimen-obr-${obr.occurrence}`;
  const type = cwe(nested(sps, 1));
  const resource: FhirResource = compact({
    resourceType: 'Specimen',
    type: type ?? (sps.c(1) ? { text: sps.c(1) } : undefined),
    subject: s.patientRef ? localRef(s.patientRef) : undefined,
    collection: compact({ bodySite: cwe(nested(sps, 4)), collectedDateTime: toDateTime(obr.get(7)) }),
  });
  return b.add({ localRef: ref, resource, location: obr.loc, identifiers: [b.messageIdentifier(ref)], ...(s.patientRef ? { patientRef: s.patientRef } : {}), sources: [] });
}
