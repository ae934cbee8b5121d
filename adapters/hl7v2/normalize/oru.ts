import type { FhirResource } from '../../../gateway/core/types.js';
import type { Subject } from './clinical.js';
import { mapCommon } from './common.js';
import { localRef, type Builder } from './context.js';
import { compact, cwe, tableCode } from './datatypes.js';
import { toDateTime, toInstant } from './datetime.js';
import { KEY_SYSTEM } from './identity.js';
import { attachmentsOf, mapObservation } from './observation.js';
import { mapMedicationGroup } from './pharmacy.js';
import { mapObrSpecimen, mapServiceRequest, mapSpecimen, orderIdentifiers, orderKey, storeIds } from './order-request.js';
import { groupOrders, type OrderGroup } from './orders.js';
import type { SegReader } from './reader.js';
import { OBSERVATION_STATUS, REPORT_STATUS } from './tables.js';

/**
 * ORU^R01 / OUL^R21–R24: per order group a ServiceRequest (the order the results answer), a
 * DiagnosticReport (OBR), one Observation per OBX and the Specimens (SPM, else OBR-15).
 */
export function mapResults(b: Builder): void {
  // OUL^R22/R23 open with the specimen and nest orders in it; R21/R24 and ORU nest specimens in orders.
  const oul = b.r.segments[0]!.get(9, 1, 1).toUpperCase() === 'OUL';
  mapOrderMessage(b, { reports: true, specimenFirst: oul && (b.event === 'R22' || b.event === 'R23') });
}

/** ORM^O01 / OML^O21: ServiceRequests with their Specimens and the OBX answers sent with them. */
export function mapOrders(b: Builder): void {
  mapOrderMessage(b, { reports: false, specimenFirst: false });
}

function mapOrderMessage(b: Builder, opts: { reports: boolean; specimenFirst: boolean }): void {
  const s = mapCommon(b);
  mapOrderGroups(b, s, opts);
}

/**
 * Order groups of a message → ServiceRequest, Specimen, Observation and (for results)
 * DiagnosticReport records.
 */
export function mapOrderGroups(b: Builder, s: Subject, opts: { reports: boolean; specimenFirst: boolean }): void {
  const { patientRef, encounterRef } = s;
  const specimenRefs = new Map<SegReader, string>();
  const specimenOf = (spm: SegReader): string => {
    let r = specimenRefs.get(spm);
    if (!r) {
      r = mapSpecimen(b, spm, s);
      specimenRefs.set(spm, r);
    }
    return r;
  };
  groupOrders(b.r.segments, opts.specimenFirst).forEach((g, i) => {
    if (!g.obr && !g.orc) {
      // Results without an order (patient-level OBX, some senders): observations and documents only.
      for (const item of g.obx) {
        const type = item.obx.get(2).toUpperCase();
        const obs = mapObservation(b, item.obx, { patientRef, encounterRef, notes: item.notes });
        if (type === 'ED' || type === 'RP') mapAttachmentReport(b, item.obx, s, { srRef: undefined, specimen: undefined, observation: obs });
      }
      return;
    }
    if (!g.obr && g.extra.some((x) => x.name === 'RXO' || x.name === 'RXE')) {
      // A pharmacy order in ORM^O01 (ORC + RXO): a MedicationRequest, not a ServiceRequest.
      mapMedicationGroup(b, g, s, i + 1);
      return;
    }
    let specimens = g.specimens.map(specimenOf);
    if (specimens.length === 0 && g.obr) specimens = [mapObrSpecimen(b, g.obr, s)].filter((x): x is string => x !== undefined);
    const reportStatus = g.obr ? REPORT_STATUS[g.obr.get(25).toUpperCase()] : undefined;
    const fallback = opts.reports ? (reportStatus === 'final' || reportStatus === 'corrected' ? 'completed' : 'active') : 'active';
    // Results point at their order (basedOn); answers sent with an order are the order's
    // supportingInfo instead (IG OML/ORM maps), which needs them stored before the request.
    const srRef = opts.reports ? mapServiceRequest(b, g, s, { index: i + 1, fallbackStatus: fallback, specimens }) : undefined;
    const results: string[] = [];
    for (const item of g.obx) {
      const type = item.obx.get(2).toUpperCase();
      if (type === 'ED' || type === 'RP') {
        // The IG maps the document to an Observation (R5 valueAttachment extension, since R4
        // Observation.value has no Attachment); a DiagnosticReport of its own (code OBX-3) also
        // presents it, so R4 clients that only read presentedForm still see the document.
        const specimen = item.specimen ? specimenOf(item.specimen) : specimens[0];
        const obs = mapObservation(b, item.obx, { patientRef, encounterRef, basedOn: srRef, notes: item.notes, specimenRef: specimen, ...(opts.reports ? { category: 'laboratory' } : {}) });
        results.push(obs);
        mapAttachmentReport(b, item.obx, s, { srRef, specimen, observation: obs });
        continue;
      }
      results.push(mapObservation(b, item.obx, {
        patientRef, encounterRef, basedOn: srRef, notes: item.notes,
        specimenRef: item.specimen ? specimenOf(item.specimen) : specimens[0],
        ...(opts.reports ? { category: 'laboratory' } : {}),
      }));
    }
    if (!srRef) {
      mapServiceRequest(b, g, s, { index: i + 1, fallbackStatus: fallback, specimens, supportingInfo: results });
      return;
    }
    if (g.obr) mapReport(b, g, s, { index: i + 1, srRef, results, specimens, status: reportStatus });
  });
}

/** ED / RP OBX → DiagnosticReport with the document as presentedForm. */
function mapAttachmentReport(b: Builder, obx: SegReader, s: Subject, links: { srRef: string | undefined; specimen: string | undefined; observation: string }): string {
  obx.consume(1);
  const ref = `report-obx-${obx.occurrence}`;
  const status = obx.get(11).toUpperCase();
  const forms = attachmentsOf(obx);
  const resource: FhirResource = compact({
    resourceType: 'DiagnosticReport',
    basedOn: links.srRef ? [localRef(links.srRef)] : undefined,
    status: OBSERVATION_STATUS[status] === 'cancelled' ? 'cancelled' : REPORT_STATUS[status] ?? 'unknown',
    code: cwe(obx.comp(3)) ?? { text: 'unknown' },
    subject: s.patientRef ? localRef(s.patientRef) : undefined,
    encounter: s.encounterRef ? localRef(s.encounterRef) : undefined,
    effectiveDateTime: toDateTime(obx.get(14)),
    issued: toInstant(obx.get(19)),
    specimen: links.specimen ? [localRef(links.specimen)] : undefined,
    presentedForm: forms,
    result: [localRef(links.observation)],
  });
  const subId = obx.get(4);
  return b.add({ localRef: ref, resource, location: obx.loc, identifiers: [b.messageIdentifier(subId ? `${ref}.${subId}` : ref)], ...(s.patientRef ? { patientRef: s.patientRef } : {}), sources: [obx] });
}

interface ReportParts {
  index: number;
  srRef: string;
  results: string[];
  specimens: string[];
  status: string | undefined;
}

/** OBR → DiagnosticReport (status OBR-25, code OBR-4, effective OBR-7/8, issued OBR-22, category OBR-24). */
function mapReport(b: Builder, g: OrderGroup, s: Subject, p: ReportParts): void {
  const obr = g.obr!;
  const ref = `report-${p.index}`;
  const identifier = orderIdentifiers(b, g);
  const start = toDateTime(obr.get(7));
  const end = toDateTime(obr.get(8));
  const interpreters = obr.all(32).map((c) => {
    // OBR-32 is NDL: the person is an XCN-like CNN packed in subcomponents of component 1.
    const name = [c.c(1, 3), c.c(1, 2)].filter(Boolean).join(' ');
    return name ? { display: name } : undefined;
  }).filter(Boolean);
  const resource: FhirResource = compact({
    resourceType: 'DiagnosticReport',
    identifier,
    basedOn: [localRef(p.srRef)],
    status: p.status ?? 'unknown',
    category: [tableCode(obr.get(24), '0074')].filter(Boolean),
    code: cwe(obr.comp(4)) ?? { text: 'unknown' },
    subject: s.patientRef ? localRef(s.patientRef) : undefined,
    encounter: s.encounterRef ? localRef(s.encounterRef) : undefined,
    effectiveDateTime: end ? undefined : start,
    effectivePeriod: end ? compact({ start, end }) : undefined,
    issued: toInstant(obr.get(22)),
    resultsInterpreter: interpreters,
    specimen: p.specimens.map((r) => localRef(r)),
    result: p.results.map((r) => localRef(r)),
  });
  if (obr.get(7) && !start) b.issue('warning', 'value', obr.where(7), 'OBR-7 is not a valid HL7 DTM; effective time left empty');
  b.add({ localRef: ref, resource, location: obr.loc, identifiers: storeIds(b, identifier, ref), matchKeys: orderKey(b, g, KEY_SYSTEM.report), ...(s.patientRef ? { patientRef: s.patientRef } : {}), sources: [] });
}
