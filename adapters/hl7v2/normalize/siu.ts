import type { FhirResource, Identifier } from '../../../gateway/core/types.js';
import { mapCommon, mapLooseObservations } from './common.js';
import { localRef, type Builder } from './context.js';
import { compact, cwe, cweTable, num, type Json } from './datatypes.js';
import { toDateTime, toInstant } from './datetime.js';
import { compositeKey, KEY_SYSTEM } from './identity.js';
import { storeIds } from './order-request.js';
import type { SegReader } from './reader.js';
import { APPOINTMENT_STATUS, APPOINTMENT_STATUS_BY_EVENT } from './tables.js';

/** SCH-10 / AIS-8 duration units → minutes per unit. */
const MINUTES: Readonly<Record<string, number>> = { S: 1 / 60, SEC: 1 / 60, M: 1, MIN: 1, H: 60, HR: 60, D: 1440 };

/**
 * SIU^S12–S26 → Appointment (SCH, TQ1, AIS/AIG/AIL/AIP resources) plus the shared Patient,
 * Encounter, Condition and Observation records.
 */
export function mapSchedule(b: Builder): void {
  const s = mapCommon(b);
  const sch = b.r.seg('SCH');
  if (!sch) {
    b.issue('error', 'required', 'SCH', 'SCH segment is required in a scheduling message');
    mapLooseObservations(b, s);
    return;
  }
  const tq1 = b.r.seg('TQ1');
  const ais = b.r.all('AIS');
  const identifier = [b.ei(sch.comp(1), 'PLAC'), b.ei(sch.comp(2), 'FILL')].filter((x): x is Json & Identifier => x !== undefined);
  const timing = sch.comp(11);
  const startText = tq1?.get(7) || timing.c(4) || ais[0]?.get(4) || '';
  const endText = tq1?.get(8) || timing.c(5) || '';
  const start = toInstant(startText);
  const end = toInstant(endText);
  if (startText && !start) b.issue('warning', 'value', tq1?.get(7) ? tq1.where(7) : sch.where(11), 'appointment start is not a DTM with minutes and an offset; FHIR instant left empty');
  const statusCode = sch.get(25).toUpperCase();
  const placer = b.ei(sch.comp(1), 'PLAC');
  const filler = b.ei(sch.comp(2), 'FILL');
  const groupOf = resourceGroups(b);
  const services = ais.map((a) => mapServiceRequest(b, a, { appointmentId: identifier[1] ?? identifier[0], group: groupOf.get(a) ?? 1, patientRef: s.patientRef }));
  const resource: FhirResource = compact({
    resourceType: 'Appointment',
    identifier,
    basedOn: services.map((r) => localRef(r)),
    status: APPOINTMENT_STATUS[statusCode] ?? APPOINTMENT_STATUS_BY_EVENT[b.event] ?? 'booked',
    cancelationReason: b.event === 'S15' || b.event === 'S16' ? cwe(sch.comp(6)) : undefined,
    serviceType: ais.map((a) => cwe(a.comp(3))).filter(Boolean),
    // SCH-7 holds table 0276 codes (ROUTINE, EMERGENCY…), the binding of Appointment.appointmentType;
    // SCH-8 (table 0277: Normal, Tentative…) has no FHIR element and is reported unmapped.
    appointmentType: cweTable(sch.comp(7), '0276'),
    description: b.r.all('NTE').slice(0, 1).map((n) => n.get(3)).find(Boolean),
    start,
    end,
    minutesDuration: duration(sch),
    participant: participants(b, s.patientRef),
  });
  b.add({
    localRef: 'appointment',
    resource,
    location: sch.loc,
    identifiers: storeIds(b, identifier, 'appointment'),
    matchKeys: compositeKey(KEY_SYSTEM.appointment, [['PLAC', placer], ['FILL', filler]]),
    ...(s.patientRef ? { patientRef: s.patientRef } : {}),
    sources: [sch, ...(tq1 ? [tq1] : []), ...b.r.all('AIG'), ...b.r.all('AIL'), ...b.r.all('AIP'), ...b.r.all('RGS')],
  });
  mapLooseObservations(b, s);
}

/** Appointment status of a filler status code → the request status of the scheduled service. */
const SERVICE_STATUS: Readonly<Record<string, string>> = {
  booked: 'active', pending: 'active', waitlist: 'active', 'checked-in': 'active', fulfilled: 'completed',
  cancelled: 'revoked', noshow: 'revoked', 'entered-in-error': 'entered-in-error',
};

/**
 * Position (1-based) of the RGS resource group each AIS/AIG/AIL/AIP belongs to: set IDs restart
 * in every group, so a set ID alone does not tell two services apart.
 */
function resourceGroups(b: Builder): Map<SegReader, number> {
  const out = new Map<SegReader, number>();
  let group = 0;
  for (const seg of b.r.segments) {
    if (seg.name === 'RGS') group++;
    else if (seg.name.startsWith('AI')) out.set(seg, Math.max(group, 1));
  }
  return out;
}

interface ServiceLinks { appointmentId: Identifier | undefined; group: number; patientRef: string | undefined }

/**
 * AIS → ServiceRequest for the scheduled service (code AIS-3, start AIS-4, status AIS-10); the
 * Appointment is based on it. Identified by the appointment id, the RGS group and the AIS set ID.
 */
function mapServiceRequest(b: Builder, ais: SegReader, links: ServiceLinks): string {
  const { appointmentId, group, patientRef } = links;
  const setId = ais.get(1) || String(ais.occurrence);
  const ref = group > 1 ? `servicerequest-ais-${group}-${setId}` : `servicerequest-ais-${setId}`;
  const identifier = appointmentId ? [{ system: b.fallbackSystem('appointment-service'), value: group > 1 ? `${appointmentId.value}/${group}/${setId}` : `${appointmentId.value}/${setId}` }] : [];
  const start = toDateTime(ais.get(4));
  const resource: FhirResource = compact({
    resourceType: 'ServiceRequest',
    identifier,
    status: SERVICE_STATUS[APPOINTMENT_STATUS[ais.get(10).toUpperCase()] ?? ''] ?? 'active',
    intent: 'order',
    code: cwe(ais.comp(3)),
    subject: patientRef ? localRef(patientRef) : undefined,
    occurrencePeriod: start ? { start } : undefined,
  });
  return b.add({ localRef: ref, resource, location: ais.loc, identifiers: storeIds(b, identifier, ref), matchKeys: identifier, ...(patientRef ? { patientRef } : {}), sources: [ais] });
}

function duration(sch: SegReader): number | undefined {
  const n = num(sch.get(9));
  if (n === undefined) return undefined;
  const per = MINUTES[sch.get(10, 1, 1).toUpperCase() || 'MIN'];
  if (per === undefined) return undefined;
  // FHIR minutesDuration is a positiveInt: round, and never below one minute.
  return Math.max(1, Math.round(n * per));
}

/** Patient, then AIP personnel (Practitioners), AIL locations and AIG resources by display. */
function participants(b: Builder, patientRef: string | undefined): Json[] {
  const out: Json[] = [];
  if (patientRef) out.push({ actor: localRef(patientRef), status: 'accepted' });
  for (const aip of b.r.all('AIP')) {
    aip.consume(1);
    const actor = aip.all(3).map((c) => b.practitioner(c, aip)).find(Boolean);
    if (actor) out.push(compact({ actor, type: [cwe(aip.comp(4))].filter(Boolean), status: participantStatus(aip.get(12)) }));
  }
  for (const ail of b.r.all('AIL')) {
    ail.consume(1);
    const pl = ail.comp(3);
    const display = [pl.c(4, 1), pl.c(1, 1), pl.c(2, 1), pl.c(3, 1)].filter(Boolean).join(' ');
    if (display) out.push(compact({ actor: { display }, status: participantStatus(ail.get(12)) }));
  }
  for (const aig of b.r.all('AIG')) {
    aig.consume(1);
    const display = aig.get(3, 1, 2) || aig.get(3);
    if (display) out.push(compact({ actor: { display }, type: [cwe(aig.comp(4))].filter(Boolean), status: participantStatus(aig.get(14)) }));
  }
  return out;
}

function participantStatus(filler: string): string {
  const s = APPOINTMENT_STATUS[filler.toUpperCase()];
  return s === 'cancelled' || s === 'noshow' || s === 'entered-in-error' ? 'declined' : s === 'pending' || s === 'waitlist' ? 'tentative' : 'accepted';
}
