/** Type checks for decoding untrusted JSON (the `…FromWire` functions). */

export const isString = (v: unknown): v is string => typeof v === 'string';

/** A count, position or epoch-ms time: a safe integer ≥ 0 (what be64 encodes without throwing). */
export const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
