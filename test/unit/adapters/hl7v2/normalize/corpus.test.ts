import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import t from 'tap';
import { hl7v2Normalizer } from '../../../../../adapters/hl7v2/normalize/index.js';
import { corpus, listFiles } from '../../../../helpers/corpus.js';
import { localRefsIn, rawOf } from './raw.js';

// Every HL7 v2 message of the corpus except the fuzzer inputs (the parser's own tests cover those).
const files = [...listFiles(corpus('hl7v2'), '.hl7'), ...listFiles(corpus('hl7v2-to-fhir'), '.hl7')]
  .filter((f) => !f.includes('bad-inputs'));

t.test('the normalizer never throws on a corpus message and returns ok or issues', async (t) => {
  t.ok(files.length > 300, 'the corpus is there');
  let ok = 0;
  for (const f of files) {
    const name = relative(corpus(), f);
    let n;
    try {
      n = hl7v2Normalizer.normalize(rawOf(readFileSync(f), name));
    } catch (err) {
      t.fail(`${name} threw`, { err });
      continue;
    }
    if (n.ok) {
      ok++;
      if (n.records.length === 0) t.fail(`${name}: ok without records`);
    } else if (n.issues.length === 0) t.fail(`${name}: not ok without an issue`);
    if (n.issues.some((i) => i.code === 'exception')) t.fail(`${name}: a mapper failed`, { issues: n.issues });
  }
  t.ok(ok > 250, `most corpus messages normalize (${ok}/${files.length})`);
});

t.test('records are well formed: provenance, coverage, identifiers with systems, references resolve in order', async (t) => {
  let checked = 0;
  for (const f of files) {
    const name = relative(corpus(), f);
    const n = hl7v2Normalizer.normalize(rawOf(readFileSync(f), name));
    if (!n.ok) continue;
    const stored = new Set<string>();
    const problems: string[] = [];
    let populated = 0;
    for (const r of n.records) {
      const p = r.provenance;
      if (!/^[A-Z][A-Z0-9]{2}\[\d+\]$/.test(p.location)) problems.push(`${r.localRef}: location ${p.location}`);
      if (!p.mapping.startsWith('hl7v2-') || p.rawId !== name || p.feed !== 'test-feed') problems.push(`${r.localRef}: provenance`);
      if (!p.coverage || p.coverage.mapped > p.coverage.populated || !p.unmapped) problems.push(`${r.localRef}: coverage`);
      else if (p.unmapped.length !== p.coverage.populated - p.coverage.mapped) problems.push(`${r.localRef}: unmapped count`);
      populated += p.coverage?.populated ?? 0;
      if (r.identifiers.length === 0) problems.push(`${r.localRef}: no identifier to version on`);
      for (const id of r.identifiers) if (!id.system || !id.value) problems.push(`${r.localRef}: identifier without system`);
      for (const id of (r.resource['identifier'] as Array<{ system?: string }> | undefined) ?? []) if (!id.system) problems.push(`${r.localRef}: resource identifier without system`);
      for (const target of localRefsIn(r.resource)) if (!stored.has(target)) problems.push(`${r.localRef} -> ${target} not stored before`);
      if (r.patientRef && !stored.has(r.patientRef)) problems.push(`${r.localRef}: patientRef`);
      if (r.resourceType !== r.resource.resourceType) problems.push(`${r.localRef}: resourceType`);
      stored.add(r.localRef);
    }
    if (stored.size !== n.records.length) problems.push('duplicate localRef');
    if (populated === 0) problems.push('no populated field counted');
    if (problems.length) t.fail(name, { problems });
    checked++;
  }
  t.ok(checked > 250, `checked ${checked} messages`);
});

t.test('issues never carry the values they are about', async (t) => {
  const body = 'MSH|^~\\&|APP|FAC|||20240101||ADT^A01|C1|P|2.5\rPID|1||ID123^^^H&1.2.3&ISO^MR||SECRETNAME^JOHN||NOTADATE|Q\r';
  const n = hl7v2Normalizer.normalize(rawOf(body));
  const text = JSON.stringify(n.issues);
  t.match(text, /PID-7/);
  t.match(text, /PID-8/);
  t.notMatch(text, /NOTADATE|SECRETNAME|ID123/);
});

t.test('an unsupported message type gives the MSH-9 issue', async (t) => {
  for (const type of ['MFN^M02', 'QBP^Q11', 'ACK']) {
    const n = hl7v2Normalizer.normalize(rawOf(`MSH|^~\\&|A|B|C|D|20240101||${type}|1|P|2.5\rMSA|AA|1\r`));
    t.equal(n.ok, false, type);
    if (!n.ok) t.match(n.issues, [{ severity: 'error', code: 'not-supported', where: 'MSH-9' }], type);
  }
  const broken = hl7v2Normalizer.normalize(rawOf('not a message'));
  t.equal(broken.ok, false, 'a body without MSH is refused with issues');
  if (!broken.ok) t.ok(broken.issues.length > 0);
});
