import type { RouteConfig } from '../config/schema.js';

/** What routing may look at: headers, never content. */
export interface RecordHeader {
  resourceType: string;
  feed: string;
  participant: string;
  labels: readonly string[];
}

/** Labels of records that stay with their source whatever the routes say. */
export const UNROUTED_LABELS = new Set(['normalization-outcome']);

/**
 * Pure routing over record headers, from routes.yaml. A route applies when every condition it
 * states matches (an absent condition matches anything); the destinations of all applying routes
 * are returned, sorted, without the record's own participant.
 */
export class Router {
  readonly #routes: readonly RouteConfig[];

  constructor(routes: readonly RouteConfig[]) {
    this.#routes = routes;
  }

  route(header: RecordHeader): string[] {
    if (header.labels.some((l) => UNROUTED_LABELS.has(l))) return [];
    const out = new Set<string>();
    for (const r of this.#routes) {
      const w = r.when;
      if (w.resourceType && !w.resourceType.includes(header.resourceType)) continue;
      if (w.feed && !w.feed.includes(header.feed)) continue;
      if (w.fromParticipant && !w.fromParticipant.includes(header.participant)) continue;
      for (const to of r.to) out.add(to);
    }
    out.delete(header.participant);
    return [...out].sort();
  }
}
