import type { Normalizer } from '../gateway/core/ports.js';
import type { Format } from '../gateway/core/types.js';
import { createHl7v2Normalizer, hl7v2Normalizer, type Hl7v2IdentityOptions, type Hl7v2NormalizerOptions } from './hl7v2/normalize/index.js';

/** What a feed's config says about normalizing its messages (feeds.yaml), as plain data. */
export interface FeedNormalizing {
  name: string;
  format: Format;
  timeZone?: string;
  identity?: Hl7v2IdentityOptions;
}

/**
 * The normalizer per format, built once from the feeds' settings: HL7 v2 feeds with a `timeZone`
 * or identity rules get their own instance (offset-less times read in the sender's zone). The same
 * function runs in the main thread and in each normalize thread, so both map alike.
 * @param feeds - every configured feed
 */
export function buildNormalizers(feeds: readonly FeedNormalizing[]): Map<Format, Normalizer> {
  const perFeed = new Map(feeds.flatMap((f) => {
    if (f.format !== 'hl7v2' || (f.timeZone === undefined && f.identity === undefined)) return [];
    const options: Hl7v2NormalizerOptions = { ...(f.timeZone ? { timeZone: f.timeZone } : {}), ...(f.identity ? { identity: f.identity } : {}) };
    return [[f.name, createHl7v2Normalizer(options)] as const];
  }));
  const hl7v2: Normalizer = {
    format: 'hl7v2', name: hl7v2Normalizer.name,
    normalize: (raw) => (perFeed.get(raw.feed) ?? hl7v2Normalizer).normalize(raw),
  };
  return new Map<Format, Normalizer>([['hl7v2', hl7v2]]);
}
