/**
 * How the entries of a transaction Bundle refer to each other: the fullUrl map, the references
 * that point at other entries, and an order with every target before the entries that refer to it.
 * Used alike by the intake (to refuse what cannot be resolved) and by the normalizer (to map), so
 * both read one bundle the same way. Linear in the bundle's size: one map, one walk per entry.
 */

/** A RESTful `[base/]Type/id`, the form whose `Type/id` tail also names the entry. */
const RESTFUL_TAIL = /(?:^|\/)([A-Z][A-Za-z]{1,63}\/[A-Za-z0-9\-.]{1,64})$/;

export interface BundleEntryLike {
  fullUrl?: unknown;
  resource?: unknown;
  request?: { method?: unknown; url?: unknown };
}

/** One entry's links. */
export interface EntryLinks {
  /** Index in Bundle.entry. */
  index: number;
  /** Entries this one refers to (indexes), without duplicates. */
  targets: number[];
  /** References that look like they point into the bundle (urn:uuid:, urn:oid:) and match no fullUrl. */
  dangling: string[];
}

export interface BundleGraph {
  /** fullUrl (and, for RESTful fullUrls, their `Type/id` tail) → entry index. */
  byUrl: Map<string, number>;
  /** Indexes of entries whose fullUrl an earlier entry already has. */
  duplicateFullUrls: number[];
  links: EntryLinks[];
  /** Entry indexes, targets first; undefined when references form a cycle. */
  order: number[] | undefined;
  /** Entries on a reference cycle (when order is undefined). */
  cycle: number[];
}

/**
 * The graph of a Bundle's entries.
 * @param entries - Bundle.entry as parsed
 */
export function bundleGraph(entries: readonly BundleEntryLike[]): BundleGraph {
  const byUrl = new Map<string, number>();
  const duplicateFullUrls: number[] = [];
  entries.forEach((e, i) => {
    if (typeof e.fullUrl !== 'string' || e.fullUrl === '') return;
    if (byUrl.has(e.fullUrl)) {
      duplicateFullUrls.push(i);
      return;
    }
    byUrl.set(e.fullUrl, i);
    const tail = RESTFUL_TAIL.exec(e.fullUrl)?.[1];
    if (tail && !e.fullUrl.startsWith('urn:') && !byUrl.has(tail)) byUrl.set(tail, i);
  });
  const links = entries.map((e, index): EntryLinks => {
    const targets = new Set<number>();
    const dangling: string[] = [];
    forEachReference(e.resource, (ref) => {
      const target = byUrl.get(ref);
      if (target !== undefined && target !== index) targets.add(target);
      else if (target === undefined && /^urn:(uuid|oid):/.test(ref)) dangling.push(ref);
    });
    return { index, targets: [...targets], dangling };
  });
  const { order, cycle } = topologicalOrder(links);
  return { byUrl, duplicateFullUrls, links, order, cycle };
}

/** Calls `visit` with every `reference` string anywhere in `value`. */
export function forEachReference(value: unknown, visit: (reference: string) => void): void {
  if (Array.isArray(value)) {
    for (const v of value) forEachReference(v, visit);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, v] of Object.entries(value)) {
    if (key === 'reference' && typeof v === 'string') visit(v);
    else forEachReference(v, visit);
  }
}

/**
 * Depth-first, in bundle order: each entry goes right after the targets it is waiting on, so an
 * entry keeps its place unless it refers forward. Iterative (a chain of thousands of entries must
 * not exhaust the call stack); O(entries + references).
 */
function topologicalOrder(links: readonly EntryLinks[]): { order: number[] | undefined; cycle: number[] } {
  const state = new Array<'active' | 'done' | undefined>(links.length);
  const order: number[] = [];
  const cycle = new Set<number>();
  for (let root = 0; root < links.length; root++) {
    if (state[root] !== undefined) continue;
    // Each frame: an entry and how many of its targets have been looked at.
    const stack: Array<[number, number]> = [[root, 0]];
    state[root] = 'active';
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const [i, next] = frame;
      const targets = links[i]!.targets;
      if (next === targets.length) {
        stack.pop();
        state[i] = 'done';
        order.push(i);
        continue;
      }
      frame[1] = next + 1;
      const t = targets[next]!;
      if (state[t] === 'active') {
        for (let k = stack.findIndex(([e]) => e === t); k < stack.length; k++) cycle.add(stack[k]![0]);
      } else if (state[t] === undefined) {
        state[t] = 'active';
        stack.push([t, 0]);
      }
    }
  }
  return cycle.size === 0 ? { order, cycle: [] } : { order: undefined, cycle: [...cycle].sort((a, b) => a - b) };
}
