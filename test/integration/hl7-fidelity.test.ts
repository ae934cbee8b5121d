/**
 * Fidelity of our HL7 v2 normalizer against the Microsoft FHIR-Converter expected Bundles, on key
 * fields only. Definitions (what a check is, what matches, what is not counted, how resources are
 * paired) are in test/helpers/fidelity/compare.ts and key-fields.ts; in short:
 *   - every key-field value on THEIR side is one check; it matches when our paired resource has an
 *     equal value (codes: any shared code, system ignored; identifiers: value only, system ignored;
 *     datetimes: same instant, or same date as written);
 *   - present on theirs, absent on ours: a miss; present only on ours: not counted.
 * The table is printed as TAP comments and, unprefixed, on stderr, in a stable Markdown format.
 * The test fails when the overall rate is below 90%.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { hl7v2Normalizer } from '../../adapters/hl7v2/normalize/index.js';
import type { FhirResource } from '../../gateway/core/types.js';
import { corpus, listFiles } from '../helpers/corpus.js';
import { bundleSide, scoreMessage } from '../helpers/fidelity/compare.js';
import { normalizeInProcess } from '../helpers/fidelity/ours.js';
import { formatReport, rate, total, type ScoredMessage } from '../helpers/fidelity/report.js';

const THRESHOLD = 90;
const DIR = corpus('hl7v2-to-fhir/microsoft-fhir-converter');

type Bundle = { entry?: Array<{ fullUrl?: string; resource?: FhirResource }> };
const pairs = listFiles(DIR, '.hl7').map((hl7) => ({
  name: basename(hl7, '.hl7'),
  hl7,
  expected: join(DIR, `${basename(hl7, '.hl7')}-expected.json`),
}));
const readBundle = (path: string): Bundle => JSON.parse(readFileSync(path, 'utf8')) as Bundle;

t.test('the harness scores a Bundle against itself at 100% and notices a changed field', async (t) => {
  const bundle = readBundle(join(DIR, 'ADT-A01-01-expected.json'));
  const side = bundleSide(bundle);
  const self = total([{ name: 'self', family: 'ADT', normalizedOk: true, score: scoreMessage(side, side) }]);
  t.ok(self.checks > 10, `${self.checks} checks in ADT-A01-01`);
  t.equal(self.matched, self.checks, 'identical sides match everywhere');

  const changed = structuredClone(bundle);
  const patient = changed.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource;
  t.ok(patient, 'the Bundle has a Patient');
  patient!.gender = patient!.gender === 'male' ? 'female' : 'male';
  patient!.birthDate = '1900-01-01';
  const other = total([{ name: 'changed', family: 'ADT', normalizedOk: true, score: scoreMessage(bundleSide(changed), side) }]);
  t.equal(other.checks - other.matched, 2, 'gender and birthDate now miss');
  t.same(other.fields.get('Patient.gender'), { checks: 1, matched: 0 });

  const empty = total([{ name: 'empty', family: 'ADT', normalizedOk: false, score: scoreMessage(side, { resources: [], lookup: () => undefined }) }]);
  t.equal(empty.matched, 0, 'nothing of ours: every check misses');
});

t.test(`our HL7 v2 normalizer keeps ≥ ${THRESHOLD}% of the key fields of the Microsoft FHIR-Converter outputs`, async (t) => {
  t.ok(pairs.length >= 80, `${pairs.length} message/expected pairs found`);
  const scored: ScoredMessage[] = [];
  for (const p of pairs) {
    const ours = normalizeInProcess(hl7v2Normalizer, readFileSync(p.hl7));
    scored.push({
      name: p.name,
      family: p.name.split(/[-_]/)[0]!.replace(/\d+$/, '').replace(/^LAB$/, 'ORU').replace(/^MDHHS$/, 'OML'),
      normalizedOk: ours.ok,
      score: scoreMessage(bundleSide(readBundle(p.expected)), ours),
    });
  }
  const report = formatReport(scored, `HL7 v2 → FHIR key-field fidelity vs microsoft-fhir-converter (${scored.length} messages, ${hl7v2Normalizer.name})`);
  for (const line of report.split('\n')) t.comment(line);
  process.stderr.write(`\n${report}\n\n`);
  const overall = total(scored);
  t.ok(rate(overall) >= THRESHOLD, `overall ${rate(overall).toFixed(1)}% (${overall.matched}/${overall.checks}) ≥ ${THRESHOLD}%`);
});
