import type { Issue } from '../../gateway/core/issues.js';
import { bundleGraph, type BundleEntryLike, type BundleGraph } from './bundle-graph.js';

/** A transaction Bundle the intake may store, with its graph (the answer maps records back through it). */
export type CheckedBundle = { ok: true; entries: BundleEntryLike[]; graph: BundleGraph } | { ok: false; status: 400 | 413 | 422; issues: Issue[] };

/**
 * The Bundle rules the intake applies before anything is stored, each its own issue at its entry:
 * the bundle type, the size cap, every entry a create (`POST Type`) whose resource matches its URL,
 * no fullUrl twice, no reference to an entry that is not there, no cycle of references. What the
 * R4 definitions say about each resource is R4Validator's part.
 * @param bundle - the parsed body (resourceType Bundle)
 * @param maxEntries - the configured cap
 */
export function checkTransaction(bundle: Record<string, unknown>, maxEntries: number): CheckedBundle {
  if (bundle.type !== 'transaction') {
    return refuse(400, [{
      severity: 'error', code: 'not-supported', where: 'Bundle.type',
      message: 'the base accepts a transaction or a batch Bundle; POST other resources to /fhir/r4/{type}',
    }]);
  }
  const entries = (Array.isArray(bundle.entry) ? bundle.entry : []) as BundleEntryLike[];
  if (entries.length === 0) return refuse(400, [{ severity: 'error', code: 'required', where: 'Bundle.entry', message: 'a transaction has at least one entry' }]);
  if (entries.length > maxEntries) return refuse(413, [{ severity: 'error', code: 'too-long', where: 'Bundle.entry', message: `a transaction may hold at most ${maxEntries} entries` }]);
  const issues: Issue[] = [];
  entries.forEach((e, i) => issues.push(...entryIssues(e, `Bundle.entry[${i}]`)));
  const graph = bundleGraph(entries);
  for (const i of graph.duplicateFullUrls) {
    issues.push({ severity: 'error', code: 'duplicate', where: `Bundle.entry[${i}].fullUrl`, message: 'an earlier entry has the same fullUrl' });
  }
  for (const l of graph.links) {
    if (l.dangling.length > 0) issues.push({ severity: 'error', code: 'not-found', where: `Bundle.entry[${l.index}].resource`, message: `${l.dangling.length} urn: reference(s) match no fullUrl of the transaction` });
  }
  for (const i of graph.cycle) {
    issues.push({ severity: 'error', code: 'invariant', where: `Bundle.entry[${i}].resource`, message: 'the entries refer to each other in a cycle; none can be stored first' });
  }
  return issues.length > 0 ? refuse(422, issues) : { ok: true, entries, graph };
}

function entryIssues(e: BundleEntryLike, where: string): Issue[] {
  const method = e.request?.method;
  const url = e.request?.url;
  const type = (e.resource as { resourceType?: unknown } | undefined)?.resourceType;
  if (method !== 'POST') {
    return [{ severity: 'error', code: 'not-supported', where: `${where}.request.method`, message: 'only create (POST) entries are processed yet' }];
  }
  const out: Issue[] = [];
  if (typeof type !== 'string') out.push({ severity: 'error', code: 'required', where: `${where}.resource`, message: 'a create entry carries a resource' });
  else if (url !== type) out.push({ severity: 'error', code: 'value', where: `${where}.request.url`, message: 'a create entry\'s url is the resource type of its resource' });
  if ((e as { request?: { ifNoneExist?: unknown } }).request?.ifNoneExist !== undefined) {
    out.push({ severity: 'error', code: 'not-supported', where: `${where}.request.ifNoneExist`, message: 'conditional create inside a transaction is not processed yet' });
  }
  return out;
}

function refuse(status: 400 | 413 | 422, issues: Issue[]): CheckedBundle {
  return { ok: false, status, issues };
}
