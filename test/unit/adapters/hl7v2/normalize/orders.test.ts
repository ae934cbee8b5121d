import t from 'tap';
import { LOCAL_REF_PREFIX } from '../../../../../gateway/core/ports.js';
import { hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { at, first, normalizeMs, rawOf, recordsOf } from './raw.js';

t.test('ORM^O01: ServiceRequest per order with placer/filler identifiers, status from ORC', async (t) => {
  for (const name of ['ORM-O01-01', 'ORM-O01-02', 'ORM-O01-03', 'ORM-O01-05']) {
    const records = recordsOf(normalizeMs(name));
    const sr = first(records, 'ServiceRequest');
    t.equal(sr.provenance.mapping, 'hl7v2-orm@1', name);
    t.equal(sr.resource['intent'], 'order', name);
    // ORM-O01-05 sends an ORC alone (a cancel): no OBR, so no code, and ORC-5 CA revokes it.
    if (name === 'ORM-O01-05') t.equal(sr.resource['status'], 'revoked', `${name}: ORC-5 CA`);
    else t.ok(typeof at(sr.resource, 'code.coding.0.code') === 'string', `${name}: OBR-4 code`);
    t.ok(sr.identifiers.length > 0, `${name}: versioned on an identifier`);
    t.equal(sr.patientRef, 'patient', name);
  }
});

t.test('OML^O21: OBX sent with the order are the request supportingInfo, specimens are linked', async (t) => {
  const records = recordsOf(normalizeMs('OML-O21-01'));
  const srs = records.filter((r) => r.resourceType === 'ServiceRequest');
  t.ok(srs.length > 0);
  const withInfo = srs.find((r) => Array.isArray(r.resource['supportingInfo']));
  t.ok(withInfo, 'a ServiceRequest lists supportingInfo');
  for (const ref of (withInfo!.resource['supportingInfo'] as Array<{ reference: string }>)) {
    const target = records.find((r) => LOCAL_REF_PREFIX + r.localRef === ref.reference);
    t.ok(target?.resourceType === 'Observation' || target?.resourceType === 'DiagnosticReport', 'an answer, or a document (ED/RP) sent with the order');
    t.equal(target?.resource['basedOn'], undefined, 'no reverse reference (it would be a cycle)');
  }
  t.ok(records.some((r) => r.resourceType === 'Specimen'));
});

t.test('ORC-1 and ORC-5 drive the request status', async (t) => {
  const status = (orc1: string, orc5: string): unknown => {
    const body = `MSH|^~\\&|A|F|||20240101||ORM^O01|C1|P|2.5\rPID|1||9^^^F^MR\rORC|${orc1}|P1||G1|${orc5}\rOBR|1|P1||24317-0^CBC^LN\r`;
    return first(recordsOf(hl7v2Normalizer.normalize(rawOf(body))), 'ServiceRequest').resource['status'];
  };
  t.equal(status('NW', ''), 'active');
  t.equal(status('CA', ''), 'active', 'a cancel request is still active until confirmed');
  t.equal(status('OC', ''), 'revoked');
  t.equal(status('NW', 'CM'), 'completed', 'ORC-5 wins');
  t.equal(status('NW', 'HD'), 'on-hold');
});
