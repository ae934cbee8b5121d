import type { Normalizer } from '../gateway/core/ports.js';
import type { Format } from '../gateway/core/types.js';
import { createFhirNormalizer } from './fhir/normalize.js';
import { createHl7v2Normalizer, hl7v2Normalizer, type Hl7v2NormalizerOptions } from './hl7v2/normalize/index.js';
import type { IdentityOptions } from './identity.js';

/** What a feed's config says about normalizing its messages (feeds.yaml), as plain data. */
export interface FeedNormalizing {
  name: string;
  format: Format;
  timeZone?: string;
  identity?: IdentityOptions;
}

/**
 * The normalizer per format, built once from the feeds' settings: feeds with a `timeZone` (HL7 v2:
 * offset-less times read in the sender's zone) or identity rules get their own instance. The same
 * function runs in the main thread and in each normalize thread, so both map alike.
 * @param feeds - every configured feed
 */
export function buildNormalizers(feeds: readonly FeedNormalizing[]): Map<Format, Normalizer> {
  const hl7Feeds = new Map(feeds.flatMap((f) => {
    if (f.format !== 'hl7v2' || (f.timeZone === undefined && f.identity === undefined)) return [];
    const options: Hl7v2NormalizerOptions = { ...(f.timeZone ? { timeZone: f.timeZone } : {}), ...(f.identity ? { identity: f.identity } : {}) };
    return [[f.name, createHl7v2Normalizer(options)] as const];
  }));
  const fhirDefault = createFhirNormalizer();
  const fhirFeeds = new Map(feeds.flatMap((f) => (f.format === 'fhir-r4' && f.identity ? [[f.name, createFhirNormalizer({ identity: f.identity })] as const] : [])));
  return new Map<Format, Normalizer>([
    ['hl7v2', perFeed(hl7v2Normalizer, hl7Feeds)],
    ['fhir-r4', perFeed(fhirDefault, fhirFeeds)],
  ]);
}

/** One normalizer per format that hands each raw to its feed's own instance, if it has one. */
function perFeed(fallback: Normalizer, byFeed: ReadonlyMap<string, Normalizer>): Normalizer {
  if (byFeed.size === 0) return fallback;
  return { format: fallback.format, name: fallback.name, normalize: (raw) => (byFeed.get(raw.feed) ?? fallback).normalize(raw) };
}
