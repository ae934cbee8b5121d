/**
 * Synthetic hospital traffic for the pipeline bench: every patient has an identity of its own
 * (MRN under the hospital's assigning authority, name, birth date, visit number, order numbers),
 * so the normalize worker does the matching and record writes real traffic costs, not repeated
 * updates of one Patient. All data is invented from fixed lists and a seeded PRNG.
 */
import { seeded } from '../hl7-corpus.js';

/** The example hospital's assigning authority (HD: namespace, OID, ISO). */
const AUTHORITY = 'CHU&1.2.250.1.71.1&ISO';
const FAMILY = ['MARTIN', 'BERNARD', 'THOMAS', 'PETIT', 'ROBERT', 'RICHARD', 'DURAND', 'DUBOIS', 'MOREAU', 'LAURENT',
  'SIMON', 'MICHEL', 'LEFÈVRE', 'LEROY', 'ROUX', 'DAVID', 'BERTRAND', 'MOREL', 'FOURNIER', 'GIRARD', 'BONNET', 'DUPONT',
  'LAMBERT', 'FONTAINE', 'ROUSSEAU', 'VINCENT', 'MÜLLER', 'LEFEBVRE', 'FAURE', 'ANDRÉ', 'MERCIER', 'BLANC', 'GUÉRIN'];
const GIVEN_F = ['Camille', 'Léa', 'Manon', 'Chloé', 'Inès', 'Sarah', 'Julie', 'Anaïs', 'Émilie', 'Louise', 'Alice', 'Claire'];
const GIVEN_M = ['Lucas', 'Hugo', 'Louis', 'Gabriel', 'Jules', 'Nathan', 'Théo', 'Raphaël', 'Arthur', 'Paul', 'Étienne', 'Marc'];
const STREETS = ['RUE DE LA RÉPUBLIQUE', 'AVENUE JEAN JAURÈS', 'RUE GARIBALDI', 'COURS LAFAYETTE', 'QUAI CLAUDE BERNARD', 'RUE DUGUESCLIN'];
const CITIES = [['LYON', '69003'], ['VILLEURBANNE', '69100'], ['BRON', '69500'], ['VÉNISSIEUX', '69200'], ['CALUIRE', '69300']] as const;
const WARDS = ['CARDIO', 'PNEUMO', 'GASTRO', 'NEURO', 'URG', 'MEDINT'];
const DOCTORS = ['12345^LEGRAND^SOPHIE', '23456^CHEVALIER^ANTOINE', '34567^MASSON^NADIA', '45678^NOËL^PIERRE'];

/** A lab panel: OBR code, then OBX rows (LOINC, unit, reference low/high). */
interface Panel { code: string; tests: ReadonlyArray<readonly [loinc: string, unit: string, low: number, high: number]> }
const PANELS: readonly Panel[] = [
  { code: '58410-2^CBC panel^LN', tests: [['6690-2^Leukocytes^LN', '10*9/L', 4, 10], ['789-8^Erythrocytes^LN', '10*12/L', 4.2, 5.6],
    ['718-7^Hemoglobin^LN', 'g/dL', 12, 17], ['4544-3^Hematocrit^LN', '%', 36, 50], ['777-3^Platelets^LN', '10*9/L', 150, 400]] },
  { code: '24323-8^Comprehensive metabolic panel^LN', tests: [['2345-7^Glucose^LN', 'mmol/L', 3.9, 6.1], ['2951-2^Sodium^LN', 'mmol/L', 135, 145],
    ['2823-3^Potassium^LN', 'mmol/L', 3.5, 5.1], ['2160-0^Creatinine^LN', 'umol/L', 60, 110], ['3094-0^Urea nitrogen^LN', 'mmol/L', 2.5, 7.5],
    ['1742-6^ALT^LN', 'U/L', 7, 56]] },
  { code: '24331-1^Lipid panel^LN', tests: [['2093-3^Cholesterol^LN', 'mmol/L', 3, 5.2], ['2571-8^Triglyceride^LN', 'mmol/L', 0.5, 1.7],
    ['2085-9^HDL cholesterol^LN', 'mmol/L', 1, 2]] },
];

interface Patient {
  mrn: string;
  family: string;
  given: string;
  sex: 'F' | 'M';
  birthDate: string;
  street: string;
  city: readonly [string, string];
  phone: string;
  visit: string;
  ward: string;
  room: number;
  doctor: string;
  /** An ORU for this patient is owed (the A04 went out). */
  resultDue: boolean;
}

/** One generated message: its MSH-10 (unique per message) and its bytes (UTF-8). */
export interface GeneratedMessage {
  readonly controlId: string;
  readonly kind: 'ADT^A04' | 'ORU^R01' | 'ADT^A08';
  readonly bytes: Buffer;
}

/**
 * One sender's traffic: a new patient is registered (ADT^A04), its results follow (ORU^R01 with
 * several OBX), and about one message in five updates an earlier patient's address (ADT^A08).
 * Each connection gets its own stream, so one patient's messages arrive in order on one connection.
 */
export class PatientTraffic {
  readonly #rand: () => number;
  readonly #prefix: string;
  readonly #patients: Patient[] = [];
  #seq = 0;

  /**
   * @param options - `prefix`: makes MRNs, visits, orders and MSH-10 unique to this stream (e.g.
   *   run tag + connection number); `seed`: the PRNG seed, so a run is reproducible
   */
  constructor(options: { prefix: string; seed: number }) {
    this.#rand = seeded(options.seed);
    this.#prefix = options.prefix;
  }

  /** The next message of the stream. */
  next(now: Date = new Date()): GeneratedMessage {
    const seq = this.#seq++;
    const controlId = `${this.#prefix}M${seq}`;
    const due = this.#patients.at(-1);
    if (due?.resultDue) {
      due.resultDue = false;
      return { controlId, kind: 'ORU^R01', bytes: this.#oru(due, controlId, seq, now) };
    }
    if (this.#patients.length > 0 && this.#rand() < 0.25) {
      const earlier = this.#pick(this.#patients);
      earlier.street = `${1 + Math.floor(this.#rand() * 120)} ${this.#pick(STREETS)}`;
      earlier.phone = this.#phone();
      return { controlId, kind: 'ADT^A08', bytes: this.#adt('A08', earlier, controlId, now) };
    }
    const patient = this.#newPatient();
    this.#patients.push(patient);
    return { controlId, kind: 'ADT^A04', bytes: this.#adt('A04', patient, controlId, now) };
  }

  #newPatient(): Patient {
    const n = this.#patients.length;
    const sex = this.#rand() < 0.5 ? 'F' : 'M';
    const year = 1930 + Math.floor(this.#rand() * 90);
    const month = 1 + Math.floor(this.#rand() * 12);
    const day = 1 + Math.floor(this.#rand() * 28);
    return {
      mrn: `${this.#prefix}P${n}`,
      family: this.#pick(FAMILY),
      given: this.#pick(sex === 'F' ? GIVEN_F : GIVEN_M),
      sex,
      birthDate: `${year}${pad(month)}${pad(day)}`,
      street: `${1 + Math.floor(this.#rand() * 120)} ${this.#pick(STREETS)}`,
      city: this.#pick(CITIES),
      phone: this.#phone(),
      visit: `${this.#prefix}V${n}`,
      ward: this.#pick(WARDS),
      room: 100 + Math.floor(this.#rand() * 40),
      doctor: this.#pick(DOCTORS),
      resultDue: true,
    };
  }

  #adt(trigger: 'A04' | 'A08', p: Patient, controlId: string, now: Date): Buffer {
    const ts = dtm(now);
    return segments([
      msh('HIS', `ADT^${trigger}^ADT_A01`, controlId, ts),
      `EVN|${trigger}|${ts}`,
      pid(p),
      pv1(p, ts),
    ]);
  }

  #oru(p: Patient, controlId: string, seq: number, now: Date): Buffer {
    const ts = dtm(now);
    const panel = this.#pick(PANELS);
    const placer = `${this.#prefix}O${seq}^HIS`;
    const filler = `${this.#prefix}F${seq}^LAB`;
    const obx = panel.tests.map(([loinc, unit, low, high], i) => {
      // Mostly in range, some 20% below or above it (flagged L/H); never negative.
      const value = Math.max(0, low + (high - low) * (this.#rand() * 1.4 - 0.2));
      const flag = value < low ? 'L' : value > high ? 'H' : 'N';
      return `OBX|${i + 1}|NM|${loinc}||${value.toFixed(1)}|${unit}^^UCUM|${low}-${high}|${flag}|||F|||${ts}`;
    });
    return segments([
      msh('LAB', 'ORU^R01^ORU_R01', controlId, ts),
      pid(p),
      pv1(p, ts),
      `ORC|RE|${placer}|${filler}||CM||||${ts}|||${p.doctor}^^^^^^^^CHU`,
      `OBR|1|${placer}|${filler}|${panel.code}|||${ts}|||||||${ts}||${p.doctor}^^^^^^^^CHU||||||${ts}||LAB|F`,
      ...obx,
    ]);
  }

  #phone(): string {
    return `04${String(Math.floor(this.#rand() * 1e8)).padStart(8, '0')}`;
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.#rand() * list.length)]!;
  }
}

/** Enhanced mode: MSH-15 AL asks for the commit ACK, MSH-16 AL for the application ACK after normalization. */
function msh(app: string, type: string, controlId: string, ts: string): string {
  return `MSH|^~\\&|${app}|CHU|PASSERELLE|GW|${ts}||${type}|${controlId}|P|2.5.1|||AL|AL|FRA|UNICODE UTF-8`;
}

function pid(p: Patient): string {
  return `PID|1||${p.mrn}^^^${AUTHORITY}^MR||${p.family}^${p.given}||${p.birthDate}|${p.sex}|||${p.street}^^${p.city[0]}^^${p.city[1]}^FRA^H||${p.phone}^PRN^PH`;
}

/** PV1 for an outpatient visit: class, location, attending and admitting doctor, service, PV1-19 visit number, PV1-44 admit time. */
function pv1(p: Patient, ts: string): string {
  return segment('PV1', { 1: '1', 2: 'O', 3: `${p.ward}^${p.room}^1^CHU`, 7: `${p.doctor}^^^^^^^^CHU`, 10: p.ward,
    17: `${p.doctor}^^^^^^^^CHU`, 19: `${p.visit}^^^${AUTHORITY}^VN`, 44: ts });
}

/** A segment from its valued fields (by HL7 field number); the others stay empty. */
function segment(name: string, fields: Readonly<Record<number, string>>): string {
  const last = Math.max(...Object.keys(fields).map(Number));
  return [name, ...Array.from({ length: last }, (_, i) => fields[i + 1] ?? '')].join('|');
}

function segments(list: string[]): Buffer {
  return Buffer.from(`${list.join('\r')}\r`, 'utf8');
}

/** HL7 DTM in UTC with its offset, so the normalizer needs no feed time zone. */
function dtm(at: Date): string {
  return `${at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}+0000`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
