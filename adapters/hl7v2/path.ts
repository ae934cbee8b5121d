/**
 * A location in a message, 1-based like the HL7 standard. Missing parts mean "the whole thing"
 * for {@link Hl7Message.raw} and "the first one" for {@link Hl7Message.get}.
 */
export interface Hl7Path {
  readonly segment: string;
  /** Which occurrence of the segment (1 = first). */
  readonly segmentRep: number;
  readonly field?: number;
  /** Field repetition (1 = first). */
  readonly rep?: number;
  readonly component?: number;
  readonly subcomponent?: number;
}

// SEG[n] then field[n], component, subcomponent, separated by '-' or '.': PID-5.1, PID.5.1,
// PID-5-1-2, OBX[2]-5, PID-3[2].1 (HAPI terser and node-hl7-client spellings both accepted).
const PATH = /^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:[-.](\d+)(?:\[(\d+)\])?(?:[-.](\d+)(?:[-.](\d+))?)?)?$/;
const cache = new Map<string, Hl7Path | undefined>();
const CACHE_MAX = 2048;

/**
 * Parse a string path such as `PID-5.1`, `OBX[2]-5`, `PID-3[2]-4-1`. Returns undefined when the
 * path is not well formed or an index is 0. Results are memoised (normalizers repeat constant paths).
 * @param path - the path text
 */
export function parseHl7Path(path: string): Hl7Path | undefined {
  const hit = cache.get(path);
  if (hit !== undefined || cache.has(path)) return hit;
  const parsed = parseUncached(path);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(path, parsed);
  return parsed;
}

function parseUncached(path: string): Hl7Path | undefined {
  const m = PATH.exec(path);
  if (!m) return undefined;
  const nums = [m[2], m[3], m[4], m[5], m[6]].map((s) => (s === undefined ? undefined : Number(s)));
  if (nums.some((n) => n === 0)) return undefined;
  const [segmentRep, field, rep, component, subcomponent] = nums;
  return {
    segment: m[1]!,
    segmentRep: segmentRep ?? 1,
    ...(field === undefined ? {} : { field }),
    ...(rep === undefined ? {} : { rep }),
    ...(component === undefined ? {} : { component }),
    ...(subcomponent === undefined ? {} : { subcomponent }),
  };
}

/**
 * Format a location for issues: `PID-5`, `OBX[2]-5.1` (segment occurrence only when > 1).
 * @param p - the location
 */
export function formatHl7Path(p: Hl7Path): string {
  let s = p.segmentRep > 1 ? `${p.segment}[${p.segmentRep}]` : p.segment;
  if (p.field === undefined) return s;
  s += `-${p.field}`;
  if (p.rep !== undefined && p.rep > 1) s += `[${p.rep}]`;
  if (p.component !== undefined) s += `.${p.component}`;
  if (p.subcomponent !== undefined) s += `.${p.subcomponent}`;
  return s;
}
