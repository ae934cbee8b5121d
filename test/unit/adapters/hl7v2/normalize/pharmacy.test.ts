import t from 'tap';
import { LOCAL_REF_PREFIX } from '../../../../../gateway/core/ports.js';
import { at, normalizeMs, recordsOf } from './raw.js';

t.test('RDE^O11: RXO is the placed order, RXE the encoded filler order based on it', async (t) => {
  const records = recordsOf(normalizeMs('RDE-O11-01'));
  const requests = records.filter((r) => r.resourceType === 'MedicationRequest');
  const placed = requests.find((r) => r.resource['intent'] === 'order');
  const encoded = requests.find((r) => r.resource['intent'] === 'filler-order');
  t.ok(placed && encoded);
  t.equal(at(placed!.resource, 'medicationCodeableConcept.coding.0.code'), '00047040230');
  t.equal(at(placed!.resource, 'medicationCodeableConcept.coding.0.system'), 'http://hl7.org/fhir/sid/ndc');
  t.equal(at(encoded!.resource, 'medicationCodeableConcept.coding.0.code'), '0143963401');
  t.same(encoded!.resource['basedOn'], [{ reference: LOCAL_REF_PREFIX + placed!.localRef }]);
  const keys = new Set(requests.flatMap((r) => r.identifiers.map((i) => `${i.system}|${i.value}`)));
  t.equal(keys.size, requests.flatMap((r) => r.identifiers).length, 'the two requests never share a store identifier');
});

t.test('RDS^O13: MedicationDispense authorised by the request', async (t) => {
  const records = recordsOf(normalizeMs('RDS-O13-01'));
  const disp = records.find((r) => r.resourceType === 'MedicationDispense');
  t.ok(disp);
  const d = disp!.resource;
  t.equal(d['status'], 'completed');
  t.equal(at(d, 'medicationCodeableConcept.coding.0.code'), '01151327');
  t.equal(d['whenHandedOver'], '2020-12-12');
  const auth = at(d, 'authorizingPrescription.0.reference');
  t.ok(records.some((r) => r.resourceType === 'MedicationRequest' && LOCAL_REF_PREFIX + r.localRef === auth));
  t.equal(disp!.provenance.mapping, 'hl7v2-rds@1');
});
