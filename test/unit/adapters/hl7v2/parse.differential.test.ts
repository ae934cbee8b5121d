// Differential test: our parser against node-hl7-client 3.2.0 (the reference) on every HL7 message
// of the shared corpus, field by field down to subcomponents. A difference must match one of the
// EXPLAINED rules below (each one a documented defect or design choice of the reference), or the
// test fails. Output names files and paths, never values.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import t, { type Test } from 'tap';
import { Message } from 'node-hl7-client';
import { corpus, listFiles } from '../../../helpers/corpus.js';
import { parseHl7, type Hl7Message, type Hl7Segment } from '../../../../adapters/hl7v2/parse.js';
import { splitBatch } from '../../../../adapters/hl7v2/batch.js';

/** Minimal view of the reference's node API (its typings declare it as HL7Node). */
interface RefNode { length: number; get(i: number | string): RefNode; toString(): string; toRaw(): string }

type Reason = keyof typeof EXPLAINED;
/** Why the reference's answer differs from ours and is wrong (or a deliberate choice of ours). */
const EXPLAINED = {
  'msh-2-split-as-data':
    'reference splits MSH-2 (the encoding characters) on its own delimiters and returns "" for it; MSH-2 is not data (v2.5.1 §2.14.9.2)',
  'hl7-null':
    'reference returns the two-character literal `""`; we return "" and report presence "null" (delete indicator, v2.5.1 §2.5.3)',
  'escape-br':
    'reference leaves the \\.br\\ formatting escape undecoded; we decode it to a line break (v2.5.1 §2.7.6)',
  'segment-trim':
    'reference trims whitespace off both ends of every segment, cutting trailing spaces from the last field; we keep the bytes as sent',
  'msh-inside-field':
    'reference looks for "MSH|" anywhere in the text, finds it inside a field value and refuses the message as a batch; we split on segment starts only (message not compared)',
} as const;

interface Tally { messages: number; segments: number; fields: number; leaves: number; explained: Map<Reason, number>; unexplained: string[] }

function explain(raw: string, ours: string, ref: string, presence: string, lastField: boolean): Reason | undefined {
  if (lastField && ref === ours.trimEnd()) return 'segment-trim';
  if (presence === 'null' && ours === '' && ref === '""') return 'hl7-null';
  if (raw.includes('\\.br\\') && ref.split('\\.br\\').join('\n') === ours) return 'escape-br';
  return undefined;
}

function compareSegment(file: string, seg: Hl7Segment, ref: RefNode, tally: Tally): void {
  const where = (f: number, r?: number, c?: number, s?: number): string =>
    `${file} ${seg.name}#${seg.index}-${f}${r === undefined ? '' : `[${r}]`}${c === undefined ? '' : `.${c}`}${s === undefined ? '' : `.${s}`}`;
  const isHeader = seg.name === 'MSH';
  // Reference children: [name, field 1, field 2…]; for MSH [name, MSH-2, MSH-3…].
  const refFields = ref.length - 1;
  const ourFields = isHeader ? seg.fieldCount - 1 : seg.fieldCount;
  if (refFields !== ourFields) tally.unexplained.push(`${where(0)} field count ${ourFields} vs ${refFields}`);
  const count = (reason: Reason): void => void tally.explained.set(reason, (tally.explained.get(reason) ?? 0) + 1);
  for (let j = 1; j <= Math.min(refFields, ourFields); j++) {
    const f = isHeader ? j + 1 : j;
    tally.fields++;
    if (isHeader && f === 2) {
      const refMsh2 = ref.get(1);
      if (refMsh2.toString() === seg.get(2)) continue;
      if (refMsh2.toRaw() === seg.raw(2) && refMsh2.toString() === '') count('msh-2-split-as-data');
      else tally.unexplained.push(`${where(2)} MSH-2 differs`);
      continue;
    }
    const rf = ref.get(j);
    const lastField = j === refFields;
    if (rf.length !== seg.repetitionCount(f)) {
      if (lastField && rf.length === 0 && seg.raw(f).trim() === '') count('segment-trim');
      else tally.unexplained.push(`${where(f)} repetitions ${seg.repetitionCount(f)} vs ${rf.length}`);
    }
    for (let r = 1; r <= Math.min(rf.length, seg.repetitionCount(f)); r++) {
      const rr = rf.get(r - 1);
      if (rr.length !== seg.componentCount(f, r)) tally.unexplained.push(`${where(f, r)} components`);
      for (let c = 1; c <= Math.min(rr.length, seg.componentCount(f, r)); c++) {
        const rc = rr.get(c - 1);
        if (rc.length !== seg.subcomponentCount(f, r, c)) tally.unexplained.push(`${where(f, r, c)} subcomponents`);
        for (let s = 1; s <= Math.min(rc.length, seg.subcomponentCount(f, r, c)); s++) {
          tally.leaves++;
          const refValue = rc.get(s - 1).toString();
          const ours = seg.get(f, r, c, s);
          if (refValue === ours) continue;
          const reason = explain(seg.raw(f, r, c, s), ours, refValue, seg.presence(f, r, c, s), lastField);
          if (reason) count(reason);
          else tally.unexplained.push(`${where(f, r, c, s)} value differs`);
        }
      }
    }
  }
}

function compareMessage(file: string, text: string, tally: Tally): boolean {
  const parsed = parseHl7(text);
  if (!parsed.ok) {
    tally.unexplained.push(`${file}: we rejected a corpus message (${parsed.issues.map((i) => i.where).join(',')})`);
    return false;
  }
  const ours: Hl7Message = parsed.message;
  const refText = text.trim();
  let ref: RefNode;
  try {
    ref = new Message({ text: refText }) as unknown as RefNode;
  } catch (err) {
    const msh = /(^|[^\r\n])MSH\|/.test(refText.slice(3));
    if (msh && ours.segmentNames.filter((n) => n === 'MSH').length === 1) tally.explained.set('msh-inside-field', (tally.explained.get('msh-inside-field') ?? 0) + 1);
    else tally.unexplained.push(`${file}: reference threw ${(err as Error).name}`);
    return false;
  }
  tally.messages++;
  if (ref.length !== ours.segmentCount) tally.unexplained.push(`${file}: segment count ${ours.segmentCount} vs ${ref.length}`);
  if (ours.get('MSH-1') !== ref.get('MSH.1').toString()) tally.unexplained.push(`${file}: MSH-1`);
  for (let i = 0; i < Math.min(ref.length, ours.segmentCount); i++) {
    const seg = ours.segmentAt(i)!;
    const refSeg = ref.get(i);
    tally.segments++;
    if (refSeg.get(0).toString() !== seg.name) {
      tally.unexplained.push(`${file}: segment ${i} ID differs`);
      continue;
    }
    compareSegment(file, seg, refSeg, tally);
  }
  return true;
}

const root = corpus();
const files = [...listFiles(corpus('hl7v2'), '.hl7'), ...listFiles(corpus('hl7v2-to-fhir'), '.hl7')]
  .filter((f) => !f.includes('/nhapi/bad-inputs/'));

function run(t: Test, list: readonly string[]): void {
  const tally: Tally = { messages: 0, segments: 0, fields: 0, leaves: 0, explained: new Map(), unexplained: [] };
  let batchMessages = 0;
  let notCompared = 0;
  for (const file of list) {
    const name = relative(root, file);
    const split = splitBatch(readFileSync(file));
    batchMessages += split.messages.length;
    if (split.messages.length === 0) tally.unexplained.push(`${name}: no message found`);
    for (const text of split.messages) if (!compareMessage(name, text, tally)) notCompared++;
  }
  t.equal(tally.messages + notCompared, batchMessages, 'every message split out was compared or explained');
  t.equal(notCompared, tally.explained.get('msh-inside-field') ?? 0, 'only explained messages were left uncompared');
  t.same(tally.unexplained.slice(0, 50), [], `no unexplained differences (${tally.unexplained.length} total)`);
  const explained = [...tally.explained].map(([k, n]) => `  ${k}: ${n} — ${EXPLAINED[k]}`).join('\n');
  t.comment(`differential vs node-hl7-client 3.2.0: ${list.length} files, ${tally.messages} messages, ${tally.segments} segments, ` +
    `${tally.fields} fields, ${tally.leaves} leaf values compared; ${tally.unexplained.length} unexplained; explained:\n${explained}`);
}

t.test('every corpus .hl7 message parses like node-hl7-client, apart from explained differences', async (t) => {
  t.ok(files.length > 300, `corpus has its .hl7 files (${files.length})`);
  run(t, files);
});

// Beyond the brief: the .txt/.hl7v2 sample messages that are plain ER7 (not hapi's commented
// messages.txt, uuencoded bodies or mirth fragments that do not start with MSH).
t.test('the plain-ER7 .txt/.hl7v2 samples too', async (t) => {
  const extra = listFiles(corpus('hl7v2')).filter((f) => /\.(txt|hl7v2)$/.test(f) && !f.includes('/nhapi/bad-inputs/'))
    .filter((f) => /^(\uFEFF)?MSH/.test(readFileSync(f, 'utf8')));
  t.ok(extra.length >= 8, `found ${extra.length} files`);
  run(t, extra);
});
