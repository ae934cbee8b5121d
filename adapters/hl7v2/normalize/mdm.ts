import type { FhirResource, Identifier } from '../../../gateway/core/types.js';
import { mapCommon } from './common.js';
import { localRef, type Builder } from './context.js';
import { compact, cweTable, mimeType, tableCode, type Json } from './datatypes.js';
import { toDateTime, toInstant } from './datetime.js';
import { mapServiceRequest, storeIds } from './order-request.js';
import { groupOrders } from './orders.js';
import type { SegReader } from './reader.js';

/** Table 0271 document completion status → DocumentReference.docStatus. */
const DOC_STATUS: Readonly<Record<string, string>> = {
  AU: 'final', LA: 'final', PA: 'preliminary', DI: 'preliminary', DO: 'preliminary', IN: 'preliminary', IP: 'preliminary', CA: 'entered-in-error',
};

/** Events that replace an earlier document (TXA-13 names it). */
const REPLACES = new Set(['T03', 'T04', 'T05', 'T06', 'T07', 'T08', 'T09', 'T10']);

/**
 * MDM^T01–T11 → DocumentReference: TXA describes the document, the OBX text (TX/ST/FT lines, or
 * ED data) becomes the base64 attachment. ORC/OBR, when present, add the ServiceRequest.
 */
export function mapDocument(b: Builder): void {
  const s = mapCommon(b);
  const txa = b.r.seg('TXA');
  const orderGroups = groupOrders(b.r.segments.filter((x) => x.name !== 'OBX' && x.name !== 'NTE' || isOrderNote(b, x)), false);
  const orderRefs = orderGroups.filter((g) => g.orc || g.obr).map((g, i) => mapServiceRequest(b, g, s, { index: i + 1, fallbackStatus: 'completed', specimens: [] }));
  if (!txa) {
    b.issue('error', 'required', 'TXA', 'TXA segment is required in a document message');
    return;
  }
  txa.consume(1);
  const obx = b.r.all('OBX');
  const attachment = content(obx);
  const identifier = [b.ei(txa.comp(12), 'document'), b.ei(txa.comp(16), 'file')].filter((x): x is Json & Identifier => x !== undefined);
  const parent = b.ei(txa.comp(13), 'document');
  const cancelled = b.event === 'T11';
  const authors = [...txa.all(5), ...txa.all(9)].map((c) => b.practitioner(c, txa)).filter((x): x is Json => x !== undefined);
  const authenticator = [...txa.all(22), ...txa.all(10)].map((c) => b.practitioner(c, txa)).find(Boolean);
  const resource: FhirResource = compact({
    resourceType: 'DocumentReference',
    masterIdentifier: identifier[0],
    identifier: identifier.slice(1),
    status: cancelled ? 'entered-in-error' : txa.get(19).toUpperCase() === 'OB' ? 'superseded' : 'current',
    docStatus: DOC_STATUS[txa.get(17).toUpperCase()],
    type: cweTable(txa.comp(2), '0270'),
    subject: s.patientRef ? localRef(s.patientRef) : undefined,
    date: toInstant(txa.get(4)) ?? toInstant(txa.get(6)),
    author: authors,
    authenticator,
    relatesTo: parent && REPLACES.has(b.event) ? [{ code: 'replaces', target: { identifier: parent } }] : undefined,
    securityLabel: [tableCode(txa.get(18), '0272')].filter(Boolean),
    content: [{ attachment: compact({ ...attachment, title: txa.get(23) || undefined, creation: toDateTime(txa.get(6)) }) }],
    context: compact({
      encounter: s.encounterRef ? [localRef(s.encounterRef)] : undefined,
      related: orderRefs.map((r) => localRef(r)),
      period: toDateTime(txa.get(4)) ? { start: toDateTime(txa.get(4)) } : undefined,
    }),
  });
  if (!attachment['data']) b.issue('warning', 'required', 'OBX-5', 'the document has no OBX text or data');
  b.add({
    localRef: 'document',
    resource,
    location: txa.loc,
    identifiers: storeIds(b, identifier.length ? identifier : [], 'document'),
    // TXA-12 unique document number identifies the document (IG masterIdentifier); TXA-16 file name does not.
    matchKeys: txa.get(12, 1, 1) ? [{ system: identifier[0]!.system, value: identifier[0]!.value }] : [],
    ...(s.patientRef ? { patientRef: s.patientRef } : {}),
    sources: [txa, ...obx, ...b.r.all('NTE').filter((n) => !isOrderNote(b, n))],
  });
}

/** NTE right after OBR/ORC is an order comment, not document text. */
function isOrderNote(b: Builder, nte: SegReader): boolean {
  if (nte.name !== 'NTE') return false;
  const i = b.r.segments.indexOf(nte);
  for (let j = i - 1; j >= 0; j--) {
    const n = b.r.segments[j]!.name;
    if (n === 'NTE') continue;
    return n === 'OBR' || n === 'ORC' || n === 'TQ1';
  }
  return false;
}

/**
 * OBX values → one attachment. ED carries its own type and (usually base64) data; text types are
 * joined line by line and encoded, since Attachment.data is base64 by definition.
 */
function content(obx: SegReader[]): Json {
  const ed = obx.find((o) => o.get(2).toUpperCase() === 'ED');
  if (ed) {
    const c = ed.comp(5);
    const base64 = c.c(4).toUpperCase() === 'BASE64';
    ed.consume(1, 2, 4);
    return compact({ contentType: mimeType(c.c(2), c.c(3)), data: base64 ? c.c(5).replace(/\s+/g, '') : Buffer.from(c.c(5), 'utf8').toString('base64') || undefined });
  }
  const lines: string[] = [];
  for (const o of obx) {
    o.consume(1, 2, 4);
    for (const c of o.all(5)) lines.push(c.c(1));
  }
  const text = lines.join('\n');
  return text ? { contentType: 'text/plain', data: Buffer.from(text, 'utf8').toString('base64') } : {};
}
