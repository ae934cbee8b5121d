import t from 'tap';
import { readFileSync } from 'node:fs';
import { checkAdeli, checkCcam, checkFiness, checkIcd10, checkIcd10Cm, checkLoinc, checkNir, checkRpps, checkSnomedId, isInsSystem } from '../../../../gateway/terminology/code-checks.js';
import { codeProblem } from '../../../../gateway/terminology/coding-check.js';
import { corpus } from '../../../helpers/corpus.js';

t.test('LOINC: form and mod-10 check digit; every code of the Da Vinci LOINC value set passes', async (t) => {
  t.same(['2345-7', '718-7', '17861-6', '4544-3'].map((c) => checkLoinc(c)), ['ok', 'ok', 'ok', 'ok']);
  t.equal(checkLoinc('2345-8'), 'check-digit');
  t.equal(checkLoinc('2345'), 'format');
  t.equal(checkLoinc('12345678-1'), 'format');
  t.equal(checkLoinc('2345-8', new Set(['2345-8'])), 'ok', 'an operator-listed legacy code is accepted');
  const vs = JSON.parse(readFileSync(corpus('terminology/loinc/valueset-pas-loinc-attachment-codes.json'), 'utf8')) as { compose?: { include?: Array<{ concept?: Array<{ code: string }> }> }; expansion?: { contains?: Array<{ code: string }> } };
  const codes = [...(vs.compose?.include ?? []).flatMap((i) => i.concept ?? []), ...(vs.expansion?.contains ?? [])].map((c) => c.code);
  t.ok(codes.length > 50, `${codes.length} LOINC codes`);
  t.same(codes.filter((c) => checkLoinc(c) !== 'ok'), [], 'none fails');
});

t.test('SNOMED CT identifiers: digits, partition, Verhoeff', async (t) => {
  t.same(['22298006', '73211009', '38341003', '404684003', '195967001'].map(checkSnomedId), ['ok', 'ok', 'ok', 'ok', 'ok']);
  t.equal(checkSnomedId('22298007'), 'check-digit', 'one digit off');
  t.equal(checkSnomedId('22928006'), 'check-digit', 'two adjacent digits swapped');
  t.equal(checkSnomedId('1234567'), 'partition');
  t.equal(checkSnomedId('02298006'), 'format', 'no leading zero');
  t.equal(checkSnomedId('12345'), 'format', 'at least 6 digits');
});

t.test('ICD-10 / CIM-10 and ICD-10-CM forms; every code of the ICD-10-CM slice passes', async (t) => {
  t.same(['E11.9', 'E119', 'A00', 'Z5130', 'S0600', 'A17.0+', 'G01*'].map(checkIcd10), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  t.same(['e11.9', 'E1', '11.9', 'E11.99999'].map(checkIcd10), ['format', 'format', 'format', 'format']);
  const lines = readFileSync(corpus('terminology/icd10cm/icd10cm-2018-categories-slice.csv'), 'utf8').split('\n').filter(Boolean);
  const codes = lines.map((l) => l.split(',')[0]!.replace(/"/g, ''));
  t.ok(codes.length > 100, `${codes.length} ICD-10-CM codes`);
  t.same(codes.filter((c) => checkIcd10Cm(c) !== 'ok'), [], 'none fails');
  t.equal(checkIcd10Cm('U07.1'), 'format', 'U is reserved in ICD-10-CM');
});

t.test('French identifiers: NIR key (Corsica included), CCAM, RPPS, ADELI, FINESS, INS systems', async (t) => {
  t.same(['1 37 04 76 243 484 15', '262087503203977', '189127512501282'].map(checkNir), ['ok', 'ok', 'ok']);
  t.equal(checkNir('189127512501283'), 'check-digit');
  t.equal(checkNir('189132512501282'), 'format', 'month 13');
  const key2A = String(97n - (BigInt('1850119123456') % 97n)).padStart(2, '0');
  t.equal(checkNir(`185012A123456${key2A}`), 'ok', '2A counts as 19');
  const key2B = String(97n - (BigInt('1850118123456') % 97n)).padStart(2, '0');
  t.equal(checkNir(`185012B123456${key2B}`), 'ok', '2B counts as 18');
  t.same([checkCcam('HHFA016'), checkCcam('HHF016')], ['ok', 'format']);
  t.same([checkRpps('10003000001'), checkRpps('1000300000')], ['ok', 'format']);
  t.same([checkAdeli('751012345'), checkAdeli('75101234A')], ['ok', 'format']);
  t.same([checkFiness('750712184'), checkFiness('2A0000012'), checkFiness('75071218')], ['ok', 'ok', 'format']);
  t.ok(isInsSystem('urn:oid:1.2.250.1.213.1.4.8') && isInsSystem('urn:oid:1.2.250.1.213.1.4.10') && !isInsSystem('urn:oid:1.2.250.1.213.1.4.2'));
});

t.test('codeProblem names the system and the rule, never the code', async (t) => {
  t.equal(codeProblem('http://loinc.org', '2345-7'), undefined);
  t.equal(codeProblem('http://loinc.org', '2345-8'), 'a LOINC code with a wrong check digit');
  t.equal(codeProblem('http://snomed.info/sct', '22298007'), 'a SNOMED CT code with a wrong check digit');
  t.equal(codeProblem('urn:local', 'anything'), undefined, 'a local system is not judged');
  t.notMatch(codeProblem('urn:oid:1.2.250.1.213.1.4.8', '189127512501283') ?? '', /1891/);
});
