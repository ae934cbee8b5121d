// Every nHapi fuzzer input must end in a parse or a specific fatal Issue, never a throw or a hang.
// A hang would block the event loop; tap's per-file timeout (.taprc) then fails the file.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import t from 'tap';
import { corpus, listFiles } from '../../../helpers/corpus.js';
import { parseHl7, type Hl7Message } from '../../../../adapters/hl7v2/parse.js';
import { splitBatch } from '../../../../adapters/hl7v2/batch.js';
import { MllpFramer } from '../../../../adapters/hl7v2/mllp-framer.js';

const root = corpus('hl7v2/nhapi/bad-inputs');
const files = listFiles(root);
const WHERE = /^(MSH(-\d+(\.\d+)?)?|segment \d+|message)$/;

/** Touch every leaf the way a curious normalizer would; must stay linear and never throw. */
function walk(msg: Hl7Message): number {
  let leaves = 0;
  for (const seg of msg.segments()) {
    for (let f = 1; f <= seg.fieldCount; f++) {
      for (let r = 1; r <= seg.repetitionCount(f); r++) {
        for (let c = 1; c <= seg.componentCount(f, r); c++) {
          for (let s = 1; s <= seg.subcomponentCount(f, r, c); s++, leaves++) seg.get(f, r, c, s);
        }
      }
    }
  }
  void msg.header;
  return leaves;
}

t.test('nHapi bad inputs: a parse or a specific issue, no crash, no hang', async (t) => {
  t.ok(files.length >= 20, `found ${files.length} inputs`);
  const rows: string[] = [];
  const tally = new Map<string, number>();
  for (const file of files) {
    const name = relative(root, file);
    const expected = name.split('/')[1] ?? '?';
    const bytes = readFileSync(file);
    const result = parseHl7(bytes);
    for (const issue of result.issues) {
      t.ok(issue.where !== undefined && WHERE.test(issue.where), `${name}: issue names a location`);
      t.notOk(bytes.length > 8 && issue.message.includes(bytes.toString('latin1', 4, 12)), `${name}: issue does not echo input`);
    }
    let ours: string;
    if (result.ok) {
      walk(result.message);
      const errors = result.issues.filter((i) => i.severity === 'error').length;
      ours = errors > 0 ? 'parsed with errors' : 'parsed';
    } else {
      const fatal = result.issues.find((i) => i.severity === 'fatal');
      t.ok(fatal, `${name}: a rejection carries a fatal issue`);
      ours = `rejected (${fatal?.where})`;
    }
    t.doesNotThrow(() => splitBatch(bytes), `${name}: splitBatch does not throw`);
    t.doesNotThrow(() => new MllpFramer().push(Buffer.concat([Buffer.from([0x0b]), bytes, Buffer.from([0x1c, 0x0d])])), `${name}: framer does not throw`);
    const key = `${expected} -> ${ours.replace(/ \(.*\)$/, '')}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    rows.push(`| ${name} | ${expected} | ${ours} |`);
  }
  t.comment(`bad inputs, nHapi expectation vs ours:\n${rows.join('\n')}\n${[...tally].map(([k, n]) => `${k}: ${n}`).join('\n')}`);
});

t.test('pathological sizes stay linear', async (t) => {
  const many = `MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5.1\r${'PID|1\r'.repeat(100_000)}`;
  const r = parseHl7(many);
  t.ok(r.ok);
  if (r.ok) t.equal(r.message.segments('PID').length, 100_000);
  const wide = `MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5.1\rOBX|${'^~&'.repeat(200_000)}`;
  const w = parseHl7(wide);
  t.ok(w.ok);
  if (w.ok) t.equal(w.message.segment('OBX')!.repetitionCount(1), 200_001);
  const escapes = `MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5.1\rNTE|1||${'\\'.repeat(300_001)}`;
  const e = parseHl7(escapes);
  t.ok(e.ok);
  if (e.ok) t.equal(e.message.get('NTE-3').length, 300_001, 'an unclosed escape stays literal');
  const garbage = parseHl7(Buffer.alloc(1_000_000, 0x7c));
  t.equal(garbage.ok, false);
});
