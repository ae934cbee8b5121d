import t from 'tap';
import { LOCAL_REF_PREFIX, type NormalizedRecord } from '../../../../gateway/core/ports.js';
import type { RawMessage } from '../../../../gateway/core/types.js';
import { createFhirNormalizer } from '../../../../adapters/fhir/normalize.js';

const V2 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const raw = (body: object, request: string): RawMessage => {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  return { id: 'raw_1', feed: 'lab-fhir', participant: 'labo-bioplus', format: 'fhir-r4', receivedAt: new Date('2026-12-01T10:00:00Z'), body: bytes, sha256: 'x', request };
};
const records = (n: ReturnType<ReturnType<typeof createFhirNormalizer>['normalize']>): NormalizedRecord[] => (n.ok ? n.records : []);
const keys = (r: NormalizedRecord | undefined): string[] => (r?.matchKeys ?? []).map((k) => `${k.system}|${k.value}`);
const id = (system: string, value: string, type?: string, use?: string): object => ({ system, value, ...(use ? { use } : {}), ...(type ? { type: { coding: [{ system: V2, code: type }] } } : {}) });

t.test('a Patient is matched only on the identifiers the rules trust', async (t) => {
  const patient = {
    resourceType: 'Patient', id: 'client-chosen',
    identifier: [
      id('urn:oid:1.2.3', 'MRN1', 'MR'), id('urn:oid:1.2.3', 'OLD1', 'MR', 'old'), id('urn:oid:9.9', '123456', 'SS'),
      id('urn:oid:1.2.3', '000000', 'MR'), id('https://lab.example/pid', 'L-7'), id('urn:oid:1.2.250.1.213.1.4.8', '1800175123456', 'INS'),
    ],
  };
  const plain = records(createFhirNormalizer().normalize(raw(patient, 'POST Patient')))[0];
  t.same(keys(plain), ['urn:oid:1.2.3|MRN1'], 'an MR with a system; never old, SSN, placeholder, untyped or an unqualified INS');
  t.equal(plain?.identifiers.length, 6, 'every identifier stays indexed');
  t.notOk('id' in (plain?.resource ?? {}), 'the client id is not kept: the store assigns one');
  const configured = records(createFhirNormalizer({ identity: { patientIdentifierSystems: ['https://lab.example/pid'], qualifiedNationalId: true } }).normalize(raw(patient, 'POST Patient')))[0];
  t.same(keys(configured), ['urn:oid:1.2.3|MRN1', 'https://lab.example/pid|L-7', 'urn:oid:1.2.250.1.213.1.4.8|1800175123456'], 'a listed system and a qualified INS');
  const untrusted = records(createFhirNormalizer().normalize(raw({ resourceType: 'Patient', identifier: [id('https://lab.example/pid', 'L-7')] }, 'POST Patient')))[0];
  t.same(keys(untrusted), ['urn:passerelle:source|raw_1#resource'], 'nothing trusted: a new record, found again only by its own raw');
});

t.test('other resources are new records, kept as sent, with their identifiers indexed', async (t) => {
  const obs = { resourceType: 'Observation', identifier: [{ system: 'urn:lab', value: 'R-1' }], status: 'final', code: { text: 'x' }, valueQuantity: { value: 1.5 } };
  const [r] = records(createFhirNormalizer().normalize(raw(obs, 'POST Observation')));
  t.same(keys(r), ['urn:passerelle:source|raw_1#resource']);
  t.same(r?.identifiers, [{ system: 'urn:lab', value: 'R-1' }]);
  t.same(r?.resource, obs);
  t.match(r?.provenance, { feed: 'lab-fhir', participant: 'labo-bioplus', rawId: 'raw_1', location: 'Observation', mapping: 'fhir-r4@1' });
});

t.test('a transaction: targets first, references between entries made local, the patient linked', async (t) => {
  const bundle = {
    resourceType: 'Bundle', type: 'transaction',
    entry: [
      { fullUrl: 'urn:uuid:obs', request: { method: 'POST', url: 'Observation' }, resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:pat' }, performer: [{ reference: 'Organization/external' }] } },
      { fullUrl: 'urn:uuid:pat', request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient' } },
    ],
  };
  const out = records(createFhirNormalizer().normalize(raw(bundle, 'POST')));
  t.same(out.map((r) => [r.localRef, r.resourceType, r.provenance.location]), [['entry-1', 'Patient', 'Bundle.entry[1]'], ['entry-0', 'Observation', 'Bundle.entry[0]']]);
  const obs = out[1]?.resource as unknown as { subject: { reference: string }; performer: Array<{ reference: string }> };
  t.equal(obs.subject.reference, `${LOCAL_REF_PREFIX}entry-1`);
  t.equal(obs.performer[0]?.reference, 'Organization/external', 'a reference outside the bundle is kept as sent');
  t.equal(out[1]?.patientRef, 'entry-1');
  const asResource = records(createFhirNormalizer().normalize(raw(bundle, 'POST Bundle')));
  t.same(asResource.map((r) => r.resourceType), ['Bundle'], 'a Bundle created at /Bundle is one resource, not a transaction');
});
