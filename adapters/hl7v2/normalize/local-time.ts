/**
 * HL7 v2 times often come without a UTC offset (the sender's local time). FHIR requires an offset
 * on any dateTime with a time, and guessing one silently would move instants. So: with a feed's
 * IANA time zone configured, the offset in force at that local time is added (DST-aware, via
 * Intl); without one, the times stay local and the message gets one warning.
 */

/** Elements whose values are FHIR dateTime/instant as the family mappers write them. */
const TIME_KEYS = /(DateTime|Date|Time|Instant)$|^(start|end|issued|date|authoredOn|whenHandedOver|creation|enteredDate)$/;
const LOCAL = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?$/;
const formats = new Map<string, Intl.DateTimeFormat>();

function format(zone: string): Intl.DateTimeFormat {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formats.set(zone, f);
  }
  return f;
}

/**
 * Throws a TypeError when the zone is not an IANA time zone the runtime knows (a configuration
 * error, caught when the normalizer is built, never per message).
 * @param zone - e.g. `Europe/Paris`
 */
export function checkTimeZone(zone: string): void {
  try {
    format(zone);
  } catch {
    throw new TypeError('timeZone must be an IANA time zone name such as Europe/Paris');
  }
}

/** Offset of the zone, in minutes east of UTC, at an instant. */
function offsetAt(zone: string, utcMs: number): number {
  const parts = format(zone).formatToParts(new Date(utcMs));
  const n = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Math.round((Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - utcMs) / 60000);
}

function withOffset(local: string, zone: string): string {
  const m = LOCAL.exec(local)!;
  const wall = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  // Two steps settle the offset for any wall time except those skipped or repeated at a DST change.
  const first = offsetAt(zone, wall);
  const off = offsetAt(zone, wall - first * 60000);
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/**
 * Visit every local (offset-less) dateTime of a resource; with a zone, give it the zone's offset.
 * @param resource - FHIR JSON, changed in place when a zone is given
 * @param zone - IANA time zone, or undefined to only count
 * @returns how many local times were found
 */
export function localTimes(resource: unknown, zone: string | undefined): number {
  let found = 0;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(walk);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    for (const [k, x] of Object.entries(o)) {
      if (typeof x === 'string') {
        if (TIME_KEYS.test(k) && LOCAL.test(x)) {
          found++;
          if (zone) o[k] = withOffset(x, zone);
        }
      } else walk(x);
    }
  };
  walk(resource);
  return found;
}
