/**
 * Identity through real feeds, on both stores: a lab naming a hospital's MRN never takes over the
 * hospital's Patient nor gains sight of it; a visit number reused for another patient opens an
 * identity conflict an admin lists and resolves (audited); a reused MSH-10 with new content is stored.
 */
import t from 'tap';
import type { NormalizationOutcome } from '../../gateway/core/ports.js';
import { startTestGateway, type RunningTestGateway } from '../helpers/gateway.js';

const AUTH = 'CHU&1.2.250.1.71.1&ISO';
const adt = (ctrl: string, mrn: string, family: string, visit: string): string => [
  `MSH|^~\\&|HIS|CHU|PASSERELLE|GW|20260101120000||ADT^A04^ADT_A01|${ctrl}|P|2.5.1`,
  `PID|1||${mrn}^^^${AUTH}^MR||${family}^JEAN||19700101|M`,
  `PV1|1|I|||||||||||||||||${visit}^^^${AUTH}^VN`,
].join('\r');
const oru = (mrn: string): string => [
  'MSH|^~\\&|LAB|BIOPLUS|PASSERELLE|GW|20260101130000||ORU^R01^ORU_R01|L-1|P|2.5.1',
  `PID|1||${mrn}^^^${AUTH}^MR||INTRUS^MALLORY||19990101|F`,
  'OBR|1||F-1|2345-7^Glucose^LN',
  'OBX|1|NM|2345-7^Glucose^LN||5.5|mmol/L|||||F',
].join('\r');

async function send(gw: RunningTestGateway, who: 'chu-lyon' | 'labo-bioplus', feed: string, body: string, headers: Record<string, string> = {}): Promise<{ rawId: string; outcome: NormalizationOutcome }> {
  const waiting = new Map<string, (o: NormalizationOutcome) => void>();
  const seen = new Map<string, NormalizationOutcome>();
  const unsubscribe = gw.gateway.normalized.subscribe((o) => {
    seen.set(o.rawId, o);
    waiting.get(o.rawId)?.(o);
  });
  try {
    const res = await gw.as(who, `/v1/raw/${feed}`, { method: 'POST', body: Buffer.from(body, 'latin1'), headers });
    if (res.status !== 201) throw new Error(`intake answered ${res.status}`);
    const { rawId } = (await res.json()) as { rawId: string };
    const outcome = seen.get(rawId) ?? await new Promise<NormalizationOutcome>((resolve) => waiting.set(rawId, resolve));
    return { rawId, outcome };
  } finally {
    unsubscribe();
  }
}

type Bundle = { total: number; entry?: Array<{ resource: { id: string; name?: Array<{ family?: string }>; meta?: { versionId?: string } } }> };

for (const store of ['lmdb', 'redis'] as const) {
  t.test(`${store}: a lab naming the hospital's MRN neither takes over nor sees the hospital's Patient`, async (t) => {
    const gw = await startTestGateway({ store });
    t.teardown(() => gw.cleanup());
    await send(gw, 'chu-lyon', 'chu-adt', adt('A-1', 'MRN123', 'DUPONT', 'V1001'));
    const search = async (who: 'chu-lyon' | 'labo-bioplus'): Promise<Bundle> =>
      (await (await gw.as(who, `/fhir/r4/Patient?identifier=${encodeURIComponent('urn:oid:1.2.250.1.71.1|MRN123')}`)).json()) as Bundle;
    const before = await search('chu-lyon');
    t.equal(before.total, 1, 'the hospital has its patient');
    const hospitalId = before.entry![0]!.resource.id;

    const lab = await send(gw, 'labo-bioplus', 'lab-oru', oru('MRN123'));
    t.equal(lab.outcome.ok, true);
    const hospital = (await (await gw.as('chu-lyon', `/fhir/r4/Patient/${hospitalId}`)).json()) as Bundle['entry'] extends Array<infer E> | undefined ? E extends { resource: infer R } ? R : never : never;
    t.equal(hospital.meta?.versionId, '1', "the hospital's Patient has no new version");
    t.equal(hospital.name?.[0]?.family, 'DUPONT', 'its demographics are untouched');
    const labView = await gw.as('labo-bioplus', `/fhir/r4/Patient/${hospitalId}`);
    t.equal(labView.status, 404, "the lab cannot read the hospital's Patient");
    const labHistory = await gw.as('labo-bioplus', `/fhir/r4/Patient/${hospitalId}/_history/1`);
    t.equal(labHistory.status, 404, 'nor its history');
    const labSearch = await search('labo-bioplus');
    t.equal(labSearch.total, 1, 'the lab finds only its own record for that identifier');
    t.not(labSearch.entry![0]!.resource.id, hospitalId);

    await send(gw, 'chu-lyon', 'chu-adt', adt('A-2', 'MRN123', 'DUPONT', 'V1001') + '\rZZZ|later');
    t.equal((await search('labo-bioplus')).entry?.some((e) => e.resource.id === hospitalId), false, 'later hospital versions stay out of reach');
  });

  t.test(`${store}: a visit number reused for another patient opens a conflict; the admin lists and resolves it`, async (t) => {
    const gw = await startTestGateway({ store });
    t.teardown(() => gw.cleanup());
    const first = await send(gw, 'chu-lyon', 'chu-adt', adt('B-1', 'MRN-A', 'MARTIN', 'V-SHARED'));
    const second = await send(gw, 'chu-lyon', 'chu-adt', adt('B-2', 'MRN-B', 'BERNARD', 'V-SHARED'));
    t.ok(second.outcome.issues.some((i) => i.code === 'conflict'), "the second raw's outcome names the conflict");
    const list = await gw.as('ops', '/v1/admin/identity-conflicts?status=open');
    t.equal(list.status, 200);
    const { conflicts } = (await list.json()) as { conflicts: Array<{ id: string; resourceType: string; rawId: string; existingIds: string[]; recordId: string }> };
    t.equal(conflicts.length, 1);
    t.match(conflicts[0], { resourceType: 'Encounter', rawId: second.rawId });
    const encounter = first.outcome.recordIds.find((id) => conflicts[0]!.existingIds.includes(id));
    t.ok(encounter, "the existing record is the first message's Encounter");
    const read = (await (await gw.as('chu-lyon', `/fhir/r4/Encounter/${encounter}`)).json()) as { meta: { versionId: string } };
    t.equal(read.meta.versionId, '1', 'the first Encounter is unchanged');
    t.equal((await gw.as('chu-lyon', '/v1/admin/identity-conflicts')).status, 403, 'only admins list conflicts');
    const resolve = await gw.as('ops', `/v1/admin/identity-conflicts/${conflicts[0]!.id}/resolve`, {
      method: 'POST', body: JSON.stringify({ resolution: 'kept-separate' }), headers: { 'content-type': 'application/json' },
    });
    t.equal(resolve.status, 200);
    t.equal(((await (await gw.as('ops', '/v1/admin/identity-conflicts?status=open')).json()) as { total: number }).total, 0);
    const audit = await gw.gateway.store.readAudit({});
    t.ok(audit.some((e) => e.action === 'identity-conflict.resolve' && e.actor === 'ops' && e.subject === conflicts[0]!.id), 'the decision is audited');
    const metrics = await (await gw.as('ops', '/metrics')).text();
    t.match(metrics, /passerelle_identity_conflicts_open 0/);
  });

  t.test(`${store}: resolving a conflict as linked merges the new record into the existing one, in its history`, async (t) => {
    const gw = await startTestGateway({ store });
    t.teardown(() => gw.cleanup());
    await send(gw, 'chu-lyon', 'chu-adt', adt('C-1', 'MRN-C', 'MARTIN', 'V-LINK'));
    const second = await send(gw, 'chu-lyon', 'chu-adt', adt('C-2', 'MRN-D', 'BERNARD', 'V-LINK'));
    const [conflict] = await gw.gateway.store.identityConflicts({ status: 'open' });
    if (conflict === undefined) throw new Error('expected a conflict');
    const existing = conflict.existingIds[0]!;
    const incoming = await gw.gateway.store.getRecord(conflict.recordId);
    const resolve = (): Promise<Response> => gw.as('ops', `/v1/admin/identity-conflicts/${conflict.id}/resolve`, {
      method: 'POST', body: JSON.stringify({ resolution: 'linked' }), headers: { 'content-type': 'application/json' },
    });
    const res = await resolve();
    t.equal(res.status, 200);
    t.match(await res.json(), { status: 'linked', survivor: { id: existing, version: 2 } });
    const survivor = await gw.gateway.store.getRecord(existing);
    t.equal(survivor?.version, 2, 'the existing Encounter has a new version');
    t.equal(survivor?.patientId, incoming?.patientId, "it now carries the linked message's data (its patient), by the admin's decision");
    t.equal((await gw.gateway.store.getRecord(existing, 1))?.version, 1, 'the earlier version stays in its history');
    const retiredRecord = await gw.gateway.store.getRecord(conflict.recordId);
    t.equal(retiredRecord?.version, 2);
    t.same(retiredRecord?.identifiers, [], 'the retired record gives up its identifiers');
    t.match(retiredRecord?.resource, { extension: [{ url: 'urn:passerelle:linked-into', valueReference: { reference: `Encounter/${existing}` } }] });
    const visit = incoming!.identifiers.find((i) => i.value === 'V-LINK')!;
    t.same((await gw.gateway.store.findByIdentifier(visit, 'Encounter')).map((r) => r.id), [existing], 'the visit number finds the survivor only');
    t.ok(second.outcome.recordIds.includes(conflict.recordId));
    t.equal((await resolve()).status, 400, 'a resolved conflict cannot be resolved again');
    const audit = await gw.gateway.store.readAudit({});
    t.ok(audit.some((e) => e.action === 'identity-conflict.resolve' && e.subject === conflict.id && e.detail?.resolution === 'linked'), 'audited');
    const next = await send(gw, 'chu-lyon', 'chu-adt', adt('C-3', 'MRN-D', 'BERNARD', 'V-LINK') + '\rZZZ|later');
    t.notOk(next.outcome.issues.some((i) => i.code === 'conflict'), 'a later message on that visit reaches the survivor without a new conflict');
    t.ok(next.outcome.recordIds.includes(existing), 'its Encounter is the survivor');
  });

  t.test(`${store}: a reused control id (X-Source-Ref) with other content is stored as a new message and flagged`, async (t) => {
    const gw = await startTestGateway({ store });
    t.teardown(() => gw.cleanup());
    const a = await send(gw, 'chu-lyon', 'chu-adt', adt('MSG00001', 'MRN-1', 'ROUX', 'V-1'), { 'x-source-ref': 'MSG00001' });
    const b = await send(gw, 'chu-lyon', 'chu-adt', adt('MSG00001', 'MRN-2', 'FAURE', 'V-2'), { 'x-source-ref': 'MSG00001' });
    t.not(b.rawId, a.rawId, 'the second message has its own raw');
    t.ok(b.outcome.issues.some((i) => i.message.startsWith('control-id-reused')), 'its outcome says control-id-reused');
    t.ok(b.outcome.recordIds.length > 0, 'and it was normalized');
  });
}
