import { readFileSync } from 'node:fs';
import t from 'tap';
import { hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { corpus } from '../../../../helpers/corpus.js';
import { first, rawOf, recordsOf } from './raw.js';

t.test('PPR^PC1: problem-list Condition per PRB', async (t) => {
  const n = hl7v2Normalizer.normalize(rawOf(readFileSync(corpus('hl7v2/microsoft-fhir-converter/PC1-Problem-Add-v2.3.1.hl7'))));
  const records = recordsOf(n);
  const cond = first(records, 'Condition');
  t.equal(cond.provenance.mapping, 'hl7v2-ppr@1');
  t.match(cond.provenance.location, /^PRB\[\d+\]$/);
  t.match(cond.resource['category'], [{ coding: [{ code: 'problem-list-item' }] }]);
  t.ok(cond.resource['code'], 'PRB-3 code');
  t.equal(cond.patientRef, 'patient');
});

t.test('PPR without PRB names the missing segment', async (t) => {
  const n = hl7v2Normalizer.normalize(rawOf('MSH|^~\\&|A|F|||20240101||PPR^PC1|C1|P|2.3.1\rPID|1||9^^^F^MR\r'));
  t.ok(n.issues.some((i) => i.where === 'PRB' && i.code === 'required'));
});
