import type { FhirResource } from '../../../gateway/core/types.js';
import { scoped, type Subject } from './clinical.js';
import { mapCommon, mapCommonGroups, mapLooseObservations } from './common.js';
import { localRef, type Builder } from './context.js';
import { compact, cwe, num, period, tableCode } from './datatypes.js';
import { toDateTime } from './datetime.js';
import { mapOrderGroups } from './oru.js';
import { storeIds } from './order-request.js';
import type { SegReader } from './reader.js';

/**
 * DFT^P03/P11 and BAR^P01/P02/P12: Account (PID-18 patient account), ChargeItem per FT1, and the
 * shared Coverage (IN1/IN2), Condition (DG1), Procedure (PR1), Patient and Encounter records.
 * DFT orders (ORC/OBR) and their OBX keep their ServiceRequest and Observations.
 */
export function mapFinancial(b: Builder): void {
  const isDft = b.r.segments[0]!.get(9, 1, 1).toUpperCase() === 'DFT';
  // BAR^P02 purges several accounts: one patient group each.
  const groups = isDft ? [{ subject: mapCommon(b) }] : mapCommonGroups(b);
  for (const { subject: s } of groups) {
    const accountRef = mapAccount(b, s);
    if (isDft && (b.r.seg('ORC') || b.r.seg('OBR'))) mapOrderGroups(b, s, { reports: false, specimenFirst: false });
    else mapLooseObservations(b, s);
    for (const ft1 of scoped(b, s, 'FT1')) mapCharge(b, ft1, s, accountRef);
  }
}

/** PID-18 → Account; BAR^P02 (purge) and P06 (end account) make it inactive. */
function mapAccount(b: Builder, s: Subject): string | undefined {
  const pid = scoped(b, s, 'PID')[0];
  const id = pid ? b.cx(pid.comp(18)) : undefined;
  if (!pid || !id) return undefined;
  const resource: FhirResource = compact({
    resourceType: 'Account',
    identifier: [id],
    status: b.event === 'P02' || b.event === 'P06' ? 'inactive' : 'active',
    subject: s.patientRef ? [localRef(s.patientRef)] : undefined,
  });
  return b.add({ localRef: s.patientRef && s.patientRef !== 'patient' ? `account-${s.patientRef}` : 'account', resource, location: pid.loc, identifiers: [{ system: id.system, value: id.value }], matchKeys: [{ system: id.system, value: id.value }], ...(s.patientRef ? { patientRef: s.patientRef } : {}), sources: [] });
}

/** FT1 → ChargeItem (code FT1-7, quantity FT1-10, price FT1-11, date FT1-4, type FT1-6). */
function mapCharge(b: Builder, ft1: SegReader, s: Subject, accountRef: string | undefined): void {
  ft1.consume(1);
  const ref = `chargeitem-${ft1.occurrence}`;
  const tx = ft1.get(2);
  const identifier = tx ? [{ system: b.fallbackSystem('transaction'), value: tx }] : [];
  const when = ft1.comp(4);
  const qty = num(ft1.get(10));
  const price = num(ft1.get(11, 1, 1, 1));
  const code = cwe(ft1.comp(7)) ?? cwe(ft1.comp(25));
  if (!code) b.issue('warning', 'required', ft1.where(7), 'FT1-7 transaction code is empty');
  const performer = ft1.all(20).map((c) => b.practitioner(c, ft1)).find(Boolean);
  const enterer = ft1.all(21).map((c) => b.practitioner(c, ft1)).find(Boolean);
  const resource: FhirResource = compact({
    resourceType: 'ChargeItem',
    identifier,
    status: ft1.get(6).toUpperCase() === 'CD' ? 'aborted' : 'billable',
    code: code ?? { text: 'unknown' },
    subject: s.patientRef ? localRef(s.patientRef) : undefined,
    context: s.encounterRef ? localRef(s.encounterRef) : undefined,
    occurrencePeriod: when.c(2) ? period(when.c(1), when.c(2)) : undefined,
    occurrenceDateTime: when.c(2) ? undefined : toDateTime(when.c(1)),
    performer: performer ? [{ actor: performer }] : undefined,
    enterer,
    enteredDate: toDateTime(ft1.get(5)),
    quantity: qty === undefined ? undefined : { value: qty },
    priceOverride: price === undefined ? undefined : compact({ value: price, currency: ft1.get(11, 1, 1, 2) || undefined }),
    reason: ft1.all(19).map(cwe).filter(Boolean),
    productCodeableConcept: ft1.get(7) ? cwe(ft1.comp(25)) : undefined,
    account: accountRef ? [localRef(accountRef)] : undefined,
    extension: ft1.get(6) ? [{ url: 'urn:passerelle:hl7v2:FT1-6', valueCodeableConcept: tableCode(ft1.get(6), '0017') }] : undefined,
  });
  b.add({ localRef: ref, resource, location: ft1.loc, identifiers: storeIds(b, identifier, ref), matchKeys: identifier, ...(s.patientRef ? { patientRef: s.patientRef } : {}), sources: [ft1] });
}
