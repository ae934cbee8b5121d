import t from 'tap';
import { codeSystem, cwe, cweTable, hdSystem, mimeType, num, quantity, xad, xpn, xtn } from '../../../../../adapters/hl7v2/normalize/datatypes.js';
import { toDate, toDateTime, toInstant } from '../../../../../adapters/hl7v2/normalize/datetime.js';
import type { Comp } from '../../../../../adapters/hl7v2/normalize/reader.js';

/** A datatype accessor over `a^b&c^d` text, like SegReader.comp gives. */
function comp(text: string): Comp {
  const parts = text.split('^').map((c) => c.split('&'));
  return { c: (i: number, s = 1) => (parts[i - 1]?.[s - 1] ?? '').trim(), where: 'XXX-1', valued: text !== '' };
}

t.test('DTM → FHIR date/dateTime keeps precision and offset', async (t) => {
  t.equal(toDateTime('2024'), '2024');
  t.equal(toDateTime('202403'), '2024-03');
  t.equal(toDateTime('20240305'), '2024-03-05');
  t.equal(toDateTime('202403051230'), '2024-03-05T12:30:00', 'minutes get :00 seconds, no invented zone');
  t.equal(toDateTime('20240305123045.123+0215'), '2024-03-05T12:30:45.123+02:15');
  t.equal(toDateTime('20240305123045-0500'), '2024-03-05T12:30:45-05:00');
  t.equal(toDateTime('20240305123045+0000'), '2024-03-05T12:30:45Z');
  t.equal(toDateTime('2024030512'), '2024-03-05', 'an hour alone cannot be a FHIR time: the day is kept');
  t.equal(toDateTime('20240230'), undefined, 'no 30 February');
  t.equal(toDateTime('20241305'), undefined);
  t.equal(toDateTime('2024-03-05'), undefined, 'not a DTM');
  t.equal(toDateTime('20240305+2500'), undefined, 'offset out of range');
  t.equal(toDate('198808181126+0215'), '1988-08-18', 'date elements drop the time');
  t.equal(toInstant('20240305'), undefined, 'an instant needs a time');
  t.equal(toInstant('202403051230'), undefined, 'and a zone');
  t.equal(toInstant('202403051230+0100'), '2024-03-05T12:30:00+01:00');
});

t.test('identifier systems from HD: OID, UUID, URI, namespace', async (t) => {
  t.equal(hdSystem('NS', '2.16.840.1.113883.19', 'ISO'), 'urn:oid:2.16.840.1.113883.19');
  t.equal(hdSystem('', '0f9b4c7e-1a2b-4c3d-8e9f-0123456789ab', 'UUID'), 'urn:uuid:0f9b4c7e-1a2b-4c3d-8e9f-0123456789ab');
  t.equal(hdSystem('', 'https://example.org/ids', 'URI'), 'https://example.org/ids');
  t.equal(hdSystem('Hospital A', '', ''), 'urn:passerelle:aa:Hospital-A');
  t.equal(hdSystem('', '', ''), undefined);
});

t.test('coding systems: standard URIs, HL7 tables, local names kept', async (t) => {
  t.equal(codeSystem('LN'), 'http://loinc.org');
  t.equal(codeSystem('SCT'), 'http://snomed.info/sct');
  t.equal(codeSystem('SNM'), 'http://snomed.info/sct');
  t.equal(codeSystem('I10'), 'http://hl7.org/fhir/sid/icd-10');
  t.equal(codeSystem('I10C'), 'http://hl7.org/fhir/sid/icd-10-cm');
  t.equal(codeSystem('UCUM'), 'http://unitsofmeasure.org');
  t.equal(codeSystem('CVX'), 'http://hl7.org/fhir/sid/cvx');
  t.equal(codeSystem('NDC'), 'http://hl7.org/fhir/sid/ndc');
  t.equal(codeSystem('RXNORM'), 'http://www.nlm.nih.gov/research/umls/rxnorm');
  t.equal(codeSystem('HL70078'), 'http://terminology.hl7.org/CodeSystem/v2-0078');
  t.equal(codeSystem('99LOCAL'), 'urn:passerelle:cs:99LOCAL');
  t.equal(codeSystem(''), undefined);
});

t.test('CWE keeps the standard and the original coding', async (t) => {
  t.same(cwe(comp('2345-7^Glucose^LN^GLU^Glucose local^99LAB^^^Glucose, serum')), {
    coding: [
      { system: 'http://loinc.org', code: '2345-7', display: 'Glucose' },
      { system: 'urn:passerelle:cs:99LAB', code: 'GLU', display: 'Glucose local' },
    ],
    text: 'Glucose, serum',
  });
  t.same(cwe(comp('^free text only')), { text: 'free text only' });
  t.equal(cwe(comp('')), undefined);
  t.match(cweTable(comp('EMERGENCY'), '0276'), { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0276', code: 'EMERGENCY' }] });
  t.match(cweTable(comp('X^y^SCT'), '0276'), { coding: [{ system: 'http://snomed.info/sct' }] }, 'an explicit system wins');
});

t.test('XPN, XAD, XTN, NM and quantities', async (t) => {
  t.same(xpn(comp('DOE&&&&Van^JANE^Q R^JR^DR^MD^L')), { use: 'official', family: 'DOE', given: ['JANE', 'Q', 'R'], prefix: ['DR'], suffix: ['JR', 'MD'] });
  t.same(xad(comp('1 Main St&Main St&1^Apt 2^Springfield^IL^62701^USA^H^^Sangamon')), {
    use: 'home', line: ['1 Main St', 'Main St', '1', 'Apt 2'], city: 'Springfield', district: 'Sangamon', state: 'IL', postalCode: '62701', country: 'USA',
  });
  t.same(xtn(comp('^PRN^PH^^1^555^1234567^89')), { system: 'phone', value: '+1 (555) 1234567 ext. 89', use: 'home' });
  t.same(xtn(comp('^NET^Internet^jane@example.org')), { system: 'email', value: 'jane@example.org' });
  t.same(xtn(comp('(555)555-1212')), { system: 'phone', value: '(555)555-1212' });
  t.equal(num('-1.50'), -1.5);
  t.equal(num('1e3'), undefined, 'NM has no exponent');
  t.equal(num('abc'), undefined);
  t.same(quantity(5, comp('mg^milligram^UCUM')), { value: 5, unit: 'milligram', system: 'http://unitsofmeasure.org', code: 'mg' });
  t.same(quantity(5, undefined), { value: 5 });
  t.equal(mimeType('IM', 'JPEG'), 'image/jpeg');
  t.equal(mimeType('AP', 'pdf'), 'application/pdf');
  t.equal(mimeType('XX', 'pdf'), undefined);
});
