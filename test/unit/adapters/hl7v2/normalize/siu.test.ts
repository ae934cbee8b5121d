import t from 'tap';
import { LOCAL_REF_PREFIX } from '../../../../../gateway/core/ports.js';
import { hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { at, first, normalizeMs, rawOf, recordsOf } from './raw.js';

t.test('SIU^S12: Appointment times, status, type, participants and the scheduled service', async (t) => {
  const records = recordsOf(normalizeMs('SIU-S12-01'));
  const appt = first(records, 'Appointment');
  t.equal(appt.provenance.location, 'SCH[1]');
  t.equal(appt.provenance.mapping, 'hl7v2-siu@1');
  const a = appt.resource;
  t.equal(a['start'], '2021-09-24T09:30:00+02:15', 'TQ1-7 with its offset');
  t.equal(a['end'], '2021-09-24T10:20:00+02:15');
  t.equal(a['status'], 'booked');
  t.match(a['appointmentType'], { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0276', code: 'EMERGENCY' }] });
  t.equal(a['minutesDuration'], 1, '60 s rounds up to the minimum of one minute');
  t.match(a['participant'], [{ actor: { reference: LOCAL_REF_PREFIX + 'patient' } }]);
  t.match(appt.identifiers, [{ value: '12345' }, { value: '36996' }]);
  const sr = first(records, 'ServiceRequest');
  t.equal(at(sr.resource, 'code.coding.0.code'), '76164006');
  t.same(a['basedOn'], [{ reference: LOCAL_REF_PREFIX + sr.localRef }]);
});

t.test('SIU status by filler status code and by trigger', async (t) => {
  const status = (name: string): unknown => first(recordsOf(normalizeMs(name)), 'Appointment').resource['status'];
  t.equal(status('SIU-S15-01'), 'cancelled');
  t.equal(status('SIU-S17-02'), 'entered-in-error');
  t.equal(status('SIU-S26-01'), 'noshow');
  const body = 'MSH|^~\\&|A|F|||20240101||SIU^S15|C1|P|2.5\rSCH|P1|F1\rPID|1||9^^^F^MR\r';
  const n = hl7v2Normalizer.normalize(rawOf(body));
  t.equal(first(recordsOf(n), 'Appointment').resource['status'], 'cancelled', 'S15 without SCH-25');
});
