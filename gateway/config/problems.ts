import type { z } from 'zod';

/** One configuration problem, located in its file. */
export interface ConfigProblem {
  /** File path as shown to the admin (relative to the working directory when possible). */
  file: string;
  line: number;
  col: number;
  /** `feeds[1].port`; empty for a whole-file problem. */
  path: string;
  message: string;
  fix?: string;
}

/** `config/feeds.yaml:7:11 feeds[1].port: expected a number — fix: …` */
export function formatProblem(p: ConfigProblem): string {
  const where = p.path ? ` ${p.path}:` : '';
  const fix = p.fix ? ` — fix: ${p.fix}` : '';
  return `${p.file}:${p.line}:${p.col}${where} ${p.message}${fix}`;
}

/** `feeds[1].port` from ['feeds', 1, 'port']. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/** Edit distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j] ?? 0;
      row[j] = Math.min(up + 1, (row[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length] ?? 0;
}

/** The closest known name when it is close enough to be a typo. */
export function didYouMean(unknown: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(unknown.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(unknown.length / 3)) ? best : undefined;
}

/** Keys an object schema knows at `path`, walking through optional/default/array wrappers. */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[], data: unknown): string[] {
  let node: unknown = schema;
  let value: unknown = data;
  for (let i = 0; i <= path.length; i++) {
    node = unwrap(node, value);
    if (i === path.length) break;
    const seg = path[i];
    const def = defOf(node);
    if (def?.type === 'object' && typeof seg === 'string') node = (def.shape as Record<string, unknown>)[seg];
    else if (def?.type === 'array') node = def.element;
    else return [];
    value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[seg as string] : undefined;
  }
  const def = defOf(node);
  return def?.type === 'object' ? Object.keys(def.shape as object) : [];
}

interface Def { type: string; shape?: unknown; element?: unknown; innerType?: unknown; options?: unknown[]; discriminator?: string }

function defOf(node: unknown): Def | undefined {
  return (node as { def?: Def } | undefined)?.def;
}

function unwrap(node: unknown, value: unknown): unknown {
  for (;;) {
    const def = defOf(node);
    if (!def) return node;
    if (def.innerType !== undefined) node = def.innerType;
    else if (def.type === 'union' && def.discriminator && value && typeof value === 'object') {
      const tag = (value as Record<string, unknown>)[def.discriminator];
      node = def.options?.find((o) => {
        const lit = defOf((defOf(o)?.shape as Record<string, unknown> | undefined)?.[def.discriminator ?? '']) as { values?: unknown[] } | undefined;
        return lit?.values?.includes(tag);
      });
      if (node === undefined) return undefined;
    } else return node;
  }
}
