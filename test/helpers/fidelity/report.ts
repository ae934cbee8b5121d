/**
 * Aggregates message scores and prints them as a stable, paste-ready Markdown table: rows in
 * KEY_FIELDS order, integers and one-decimal percentages, no timestamps.
 */
import { KEY_FIELDS } from './key-fields.js';
import type { FieldScore, MessageScore } from './compare.js';

/** One message's score with what is needed to group it. */
export interface ScoredMessage {
  name: string;
  /** MSH-9.1 family taken from the file name (ADT, ORU, …). */
  family: string;
  normalizedOk: boolean;
  score: MessageScore;
}

/** Totals over many messages. */
export interface Totals {
  fields: Map<string, FieldScore>;
  checks: number;
  matched: number;
  unpaired: Map<string, number>;
  extra: Map<string, number>;
}

const add = (m: Map<string, number>, k: string, n: number): void => {
  m.set(k, (m.get(k) ?? 0) + n);
};

/** Sums scores. */
export function total(messages: readonly ScoredMessage[]): Totals {
  const t: Totals = { fields: new Map(), checks: 0, matched: 0, unpaired: new Map(), extra: new Map() };
  for (const m of messages) {
    for (const [k, v] of m.score.fields) {
      const f = t.fields.get(k) ?? { checks: 0, matched: 0 };
      f.checks += v.checks;
      f.matched += v.matched;
      t.fields.set(k, f);
      t.checks += v.checks;
      t.matched += v.matched;
    }
    for (const [k, v] of m.score.unpaired) add(t.unpaired, k, v);
    for (const [k, v] of m.score.extra) add(t.extra, k, v);
  }
  return t;
}

/** Matched / checks as a percentage (100 when nothing was checked). */
export function rate(s: { checks: number; matched: number }): number {
  return s.checks === 0 ? 100 : (100 * s.matched) / s.checks;
}

const pct = (s: { checks: number; matched: number }): string => (s.checks === 0 ? 'n/a' : `${rate(s).toFixed(1)}%`);

/** The full report: per field, per message family, then pairing counts. */
export function formatReport(messages: readonly ScoredMessage[], title: string): string {
  const t = total(messages);
  const lines: string[] = [`### ${title}`, '', '| field | their checks | matched | rate |', '|---|---:|---:|---:|'];
  for (const [type, specs] of Object.entries(KEY_FIELDS)) {
    for (const spec of specs) {
      const key = `${type}.${spec.name}`;
      const s = t.fields.get(key) ?? { checks: 0, matched: 0 };
      lines.push(`| ${key} | ${s.checks} | ${s.matched} | ${pct(s)} |`);
    }
  }
  lines.push(`| **overall** | ${t.checks} | ${t.matched} | ${pct(t)} |`, '');

  lines.push('| message family | messages | normalized ok | their checks | matched | rate |', '|---|---:|---:|---:|---:|---:|');
  const families = [...new Set(messages.map((m) => m.family))].sort();
  for (const family of families) {
    const ms = messages.filter((m) => m.family === family);
    const ft = total(ms);
    lines.push(`| ${family} | ${ms.length} | ${ms.filter((m) => m.normalizedOk).length} | ${ft.checks} | ${ft.matched} | ${pct(ft)} |`);
  }
  lines.push('');
  lines.push('| resource type | theirs without a partner of ours | ours beyond theirs (not counted) |', '|---|---:|---:|');
  for (const type of Object.keys(KEY_FIELDS)) {
    lines.push(`| ${type} | ${t.unpaired.get(type) ?? 0} | ${t.extra.get(type) ?? 0} |`);
  }
  return lines.join('\n');
}
