/**
 * Second fidelity table: the HL7 v2-to-FHIR IG mapping inventory (CDC ReportStream
 * `mappinginventory/catchall/<segment|datatype>/CASE.hl7` → `CASE.fhir`, one small case per
 * mapping rule), scored with the same key-field harness as hl7-fidelity.test.ts (see
 * test/helpers/fidelity/compare.ts). Family = the inventory folder (pid, obx, cx…).
 * A floor, not a target: it guards against regressions from the rate measured when it was added.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { hl7v2Normalizer } from '../../adapters/hl7v2/normalize/index.js';
import type { FhirResource } from '../../gateway/core/types.js';
import { corpus, listFiles } from '../helpers/corpus.js';
import { bundleSide, scoreMessage } from '../helpers/fidelity/compare.js';
import { normalizeInProcess } from '../helpers/fidelity/ours.js';
import { formatReport, rate, total, type ScoredMessage } from '../helpers/fidelity/report.js';

// Measured 98.1% (305/311) when added; the harness's key fields cover only part of each case.
const FLOOR = 95;
const DIR = corpus('hl7v2-to-fhir/prime-reportstream/mappinginventory/catchall');

type Bundle = { entry?: Array<{ fullUrl?: string; resource?: FhirResource }> };
const cases = listFiles(DIR, '.hl7')
  .map((hl7) => ({ name: basename(hl7, '.hl7'), family: basename(dirname(hl7)).toUpperCase(), hl7, expected: hl7.replace(/\.hl7$/, '.fhir') }))
  .filter((c) => existsSync(c.expected));

t.test(`our HL7 v2 normalizer keeps ≥ ${FLOOR}% of the key fields of the IG mapping-inventory cases`, async (t) => {
  t.ok(cases.length >= 150, `${cases.length} inventory cases with an expected Bundle`);
  const scored: ScoredMessage[] = cases.map((c) => {
    const ours = normalizeInProcess(hl7v2Normalizer, readFileSync(c.hl7));
    const theirs = bundleSide(JSON.parse(readFileSync(c.expected, 'utf8')) as Bundle);
    return { name: c.name, family: c.family, normalizedOk: ours.ok, score: scoreMessage(theirs, ours) };
  });
  const report = formatReport(scored, `HL7 v2 → FHIR key-field fidelity vs the v2-to-FHIR IG mapping inventory (${scored.length} cases, ${hl7v2Normalizer.name})`);
  for (const line of report.split('\n')) t.comment(line);
  process.stderr.write(`\n${report}\n\n`);
  const overall = total(scored);
  t.ok(overall.checks > 0, 'the inventory has key fields to check');
  t.ok(rate(overall) >= FLOOR, `overall ${rate(overall).toFixed(1)}% (${overall.matched}/${overall.checks}) ≥ ${FLOOR}%`);
});
