import t from 'tap';
import { LOCAL_REF_PREFIX } from '../../../../../gateway/core/ports.js';
import { hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { at, first, normalizeMs, rawOf, recordsOf } from './raw.js';

t.test('VXU^V04: Immunization from RXA/RXR with order identifiers', async (t) => {
  const records = recordsOf(normalizeMs('VXU-V04-01'));
  const imm = first(records, 'Immunization');
  t.equal(imm.provenance.mapping, 'hl7v2-vxu@1');
  t.match(imm.provenance.location, /^RXA\[1\]$/);
  const r = imm.resource;
  t.equal(r['status'], 'completed');
  t.equal(at(r, 'vaccineCode.coding.0.code'), '49281021588');
  t.equal(r['occurrenceDateTime'], '2021-08-18');
  t.same(r['patient'], { reference: LOCAL_REF_PREFIX + 'patient' });
  t.match(imm.identifiers, [{ value: '4422' }, { value: '13696' }]);
  t.ok(records.some((x) => x.resourceType === 'Observation'), 'OBX after RXA are kept');
});

t.test('RXA completion status, amount 999 and CVX coding', async (t) => {
  const msg = (rxa20: string, amount: string): Record<string, unknown> => {
    const body = `MSH|^~\\&|A|F|||20240101||VXU^V04|C1|P|2.5.1\rPID|1||9^^^F^MR\rORC|RE||F-1^F\rRXA|0|1|20240105||08^HepB^CVX|${amount}|mL^mL^UCUM||00^new^NIP001||||||L1|20250101|MSD^Merck^MVX|||${rxa20}\rRXR|C28161^IM^NCIT|LD^Left deltoid^HL70163\r`;
    return first(recordsOf(hl7v2Normalizer.normalize(rawOf(body))), 'Immunization').resource;
  };
  const done = msg('CP', '0.5');
  t.match(done['vaccineCode'], { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '08' }] });
  t.same(done['doseQuantity'], { value: 0.5, unit: 'mL', system: 'http://unitsofmeasure.org', code: 'mL' });
  t.equal(done['lotNumber'], 'L1');
  t.equal(done['expirationDate'], '2025-01-01');
  t.equal(done['primarySource'], true);
  t.match(done['site'], { coding: [{ code: 'LD' }] });
  t.equal(msg('RE', '999')['status'], 'not-done');
  t.equal(msg('CP', '999')['doseQuantity'], undefined, '999 means unknown amount');
});
