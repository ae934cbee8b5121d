import t from 'tap';
import { LOCAL_REF_PREFIX } from '../../../../../gateway/core/ports.js';
import { hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { VALUE_ATTACHMENT } from '../../../../../adapters/hl7v2/normalize/observation.js';
import { at, first, normalizeMs, rawOf, recordsOf } from './raw.js';

const ref = (r: string): { reference: string } => ({ reference: LOCAL_REF_PREFIX + r });

t.test('ORU^R01: DiagnosticReport per OBR with its Observations, ServiceRequest and Specimen', async (t) => {
  const records = recordsOf(normalizeMs('LAB-ORU-1'));
  const reports = records.filter((r) => r.resourceType === 'DiagnosticReport');
  t.equal(reports.length, 2);
  const report = reports[0]!.resource;
  t.match(report['code'], { coding: [{ system: 'http://loinc.org', code: '24317-0' }] });
  t.equal((report['result'] as unknown[]).length, 5);
  t.match(reports[0]!.identifiers, [{ value: '88502218' }, { value: '82503246' }], 'placer and filler version the report');
  const obs = records.filter((r) => r.resourceType === 'Observation');
  t.equal(obs.length, 10);
  const rbc = obs.find((o) => at(o.resource, 'code.coding.0.code') === '11273-0')!.resource;
  t.same(rbc['valueQuantity'], { value: 4.06, unit: 'tera.l-1', code: 'tera.l-1' });
  t.equal(rbc['status'], 'preliminary');
  t.equal(rbc['effectiveDateTime'], '2014-10-06T06:27:00+07:00');
  t.same(rbc['basedOn'], [ref('servicerequest-1')]);
  t.equal(obs[0]!.provenance.location, 'OBX[1]');
  t.same(obs[0]!.identifiers, [{ system: 'urn:passerelle:msg:SomeSystem', value: '182/obs-1' }], 'MSH-10 + OBX place');
  t.ok(records.some((r) => r.resourceType === 'Specimen' && at(r.resource, 'type.coding.0.code') === 'BLD'));
  t.match(first(records, 'ServiceRequest').resource, { status: 'completed', intent: 'order', code: { coding: [{ code: '24317-0' }] } });
});

t.test('OBX value types', async (t) => {
  const msg = (type: string, value: string, units = ''): Record<string, unknown> => {
    const body = `MSH|^~\\&|A|LAB|||20240101||ORU^R01|M1|P|2.5.1\rPID|1||P1^^^LAB^MR\rOBR|1|PL1|FI1|1234-5^Test^LN\rOBX|1|${type}|5678-9^Thing^LN||${value}|${units}|||||F|||20240102030405-0500\r`;
    const n = hl7v2Normalizer.normalize(rawOf(body));
    return first(recordsOf(n), 'Observation').resource;
  };
  t.same(msg('NM', '7.25', 'mg/dL^milligram per deciliter^UCUM')['valueQuantity'], { value: 7.25, unit: 'milligram per deciliter', system: 'http://unitsofmeasure.org', code: 'mg/dL' });
  t.equal(msg('ST', 'positive')['valueString'], 'positive');
  t.equal(msg('TX', 'line one~line two')['valueString'], 'line one\nline two');
  t.match(msg('CWE', '260373001^Detected^SCT')['valueCodeableConcept'], { coding: [{ system: 'http://snomed.info/sct', code: '260373001' }] });
  t.same(msg('SN', '>^100')['valueQuantity'], { value: 100, comparator: '>' });
  t.same(msg('SN', '^1^:^40')['valueRatio'], { numerator: { value: 1 }, denominator: { value: 40 } });
  t.same(msg('SN', '^10^-^20')['valueRange'], { low: { value: 10 }, high: { value: 20 } });
  t.equal(msg('DT', '20240105')['valueDateTime'], '2024-01-05');
  t.equal(msg('TS', '202401050830+0100')['valueDateTime'], '2024-01-05T08:30:00+01:00');
  t.equal(msg('TM', '0830')['valueTime'], '08:30:00');
  t.same(at(msg('NA', '1^2^3'), 'valueSampledData.data'), '1 2 3');
  t.match(msg('NM', '60~120', 'beats/min')['component'], [{ valueQuantity: { value: 60 } }, { valueQuantity: { value: 120 } }], 'repeating OBX-5 → components');
  t.equal(msg('NM', '12')['effectiveDateTime'], '2024-01-02T03:04:05-05:00', 'OBX-14 keeps its offset');
  const bad = hl7v2Normalizer.normalize(rawOf('MSH|^~\\&|A|LAB|||20240101||ORU^R01|M1|P|2.5.1\rPID|1||P1^^^LAB^MR\rOBR|1\rOBX|1|NM|1^X^LN||abc||||||F\r'));
  t.ok(bad.ok);
  t.ok(bad.issues.some((i) => i.where === 'OBX-5' && i.code === 'value'), 'OBX-5 issue by location');
  t.equal(first(recordsOf(bad), 'Observation').resource['valueString'], 'abc', 'a bad NM is kept as text');
});

t.test('OUL^R22: a specimen sent before its orders is linked to them', async (t) => {
  const records = recordsOf(normalizeMs('OUL-R22-02'));
  const specimens = records.filter((r) => r.resourceType === 'Specimen');
  t.ok(specimens.length > 0);
  const report = records.find((r) => r.resourceType === 'DiagnosticReport' && r.provenance.location.startsWith('OBR'))!.resource;
  t.ok(((report['specimen'] as unknown[] | undefined) ?? []).length > 0, 'report names the specimen');
  // IG (Segment OBX → Observation): OBX-5 ED / RP → Observation with the R5 valueAttachment extension.
  const images = records.filter((r) => r.resourceType === 'Observation' && (r.resource['extension'] as Array<{ url: string }> | undefined)?.[0]?.url === VALUE_ATTACHMENT);
  t.ok(images.length > 0, 'an RP/ED OBX is an Observation valued by an attachment');
  const reports = records.filter((r) => r.resourceType === 'DiagnosticReport' && r.provenance.location.startsWith('OBX'));
  t.ok(reports.length > 0, 'a document OBX is also presented by a report of its own');
  const observations = records.filter((r) => r.resourceType === 'Observation').map((o) => LOCAL_REF_PREFIX + o.localRef);
  t.ok(reports.every((r) => observations.includes(String(at(r.resource, 'result.0.reference')))), 'the report points at its Observation');
  t.ok(images.some((r) => String(at(r.resource, 'extension.0.valueAttachment.url')).startsWith('http://172.16.237.4/CaseCenter/index.php?ContainerType=CaseView&')), 'RP pointer as attachment url');
  t.ok(images.some((r) => at(r.resource, 'extension.0.valueAttachment.data') === 'VGhpcyBpcyBhIEJhc2U2NCBzdHJpbmc=' && at(r.resource, 'extension.0.valueAttachment.contentType') === 'image/jpeg'), 'ED data with its MIME type');
  t.equal(first(records, 'Observation').provenance.mapping, 'hl7v2-oul@1');
});

t.test('a LOINC code with a wrong check digit is kept as sent, with a warning at its segment', async (t) => {
  const message = [
    'MSH|^~\\&|LAB|BIOPLUS|PASSERELLE|GW|20260101130000||ORU^R01^ORU_R01|L-9|P|2.5.1',
    'PID|1||MRN1^^^HOSP&1.2.3&ISO^MR||DOE^JANE',
    'OBR|1||F-1|2345-7^Glucose^LN',
    'OBX|1|NM|2345-8^Glucose^LN||5.5|mmol/L|||||F',
    'OBX|2|NM|2951-2^Sodium^LN||140|mmol/L|||||F',
  ].join('\r');
  const normalized = hl7v2Normalizer.normalize(rawOf(message));
  const obs = recordsOf(normalized).filter((r) => r.resourceType === 'Observation');
  t.equal(at(obs[0]!.resource, 'code.coding.0.code'), '2345-8', 'the code is kept');
  const warnings = normalized.issues.filter((i) => i.code === 'code-invalid');
  t.same(warnings.map((i) => [i.severity, i.where]), [['warning', 'OBX[1]']], 'only the bad one, located by segment');
  t.match(warnings[0]?.message, /^a LOINC code with a wrong check digit \(Observation\.code\.coding\[0\]\.code\)$/);
});
