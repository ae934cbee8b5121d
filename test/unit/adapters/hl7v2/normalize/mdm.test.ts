import t from 'tap';
import { LOCAL_REF_PREFIX } from '../../../../../gateway/core/ports.js';
import { hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { at, first, normalizeMs, rawOf, recordsOf } from './raw.js';

const body = [
  'MSH|^~\\&|DOC|HOSP|||20240101||MDM^T02|C9|P|2.5',
  'PID|1||77^^^HOSP^MR||DOE^JANE',
  'PV1|1|I',
  'TXA|1|CN|TX|202401020304+0100|1^Author^Ann^^^^^^HOSP|||||||DOC-1^HOSP|||||AU',
  'OBX|1|TX|11488-4^Consult note^LN||First line.',
  'OBX|2|TX|11488-4^Consult note^LN||Second line.',
].join('\r');

t.test('MDM^T02: DocumentReference with the OBX text as base64 attachment', async (t) => {
  const records = recordsOf(hl7v2Normalizer.normalize(rawOf(body)));
  const doc = first(records, 'DocumentReference');
  const d = doc.resource;
  t.equal(d['status'], 'current');
  t.equal(d['docStatus'], 'final', 'TXA-17 AU');
  t.match(d['type'], { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0270', code: 'CN' }] });
  t.equal(d['date'], '2024-01-02T03:04:00+01:00');
  t.equal(at(d, 'content.0.attachment.contentType'), 'text/plain');
  t.equal(Buffer.from(String(at(d, 'content.0.attachment.data')), 'base64').toString('utf8'), 'First line.\nSecond line.');
  t.same(d['subject'], { reference: LOCAL_REF_PREFIX + 'patient' });
  t.match(doc.identifiers, [{ system: 'urn:passerelle:aa:HOSP', value: 'DOC-1' }], 'TXA-12 versions the document');
  t.equal(doc.provenance.location, 'TXA[1]');
  t.notOk(records.some((r) => r.resourceType === 'Observation'), 'document text is not an Observation');
});

t.test('MDM^T11 cancels; corpus MDM messages all give a DocumentReference', async (t) => {
  const cancelled = recordsOf(hl7v2Normalizer.normalize(rawOf(body.replace('MDM^T02', 'MDM^T11'))));
  t.equal(first(cancelled, 'DocumentReference').resource['status'], 'entered-in-error');
  for (const name of ['MDM-T01-01', 'MDM-T02-01', 'MDM-T05-01', 'MDM-T06-01', 'MDM-T09-01', 'MDM-T10-01']) {
    const records = recordsOf(normalizeMs(name));
    t.ok(records.some((r) => r.resourceType === 'DocumentReference'), name);
  }
  const withOrder = recordsOf(normalizeMs('MDM-T02-01'));
  const sr = first(withOrder, 'ServiceRequest');
  t.match(first(withOrder, 'DocumentReference').resource, { context: { related: [{ reference: LOCAL_REF_PREFIX + sr.localRef }] } });
});
