/**
 * Checking the directory's published log on the client (ENVELOPE.md "Log and publication", v1:
 * hash chain plus signed head). For every identity and device entry the client relies on, it
 * recomputes the entry's link from its content, folds the later content hashes from the position
 * proof, and requires the result to equal the head hash the directory key signed
 * (protocol/directory-log.ts, the code the directory builds the log with). It also refuses a head
 * older than the freshness window or smaller than one seen before (a rolled-back log).
 */
import { fromBase64Url } from '../protocol/crypto/base64url.js';
import { cryptoReady } from '../protocol/crypto/primitives.js';
import { ed25519Verify } from '../protocol/crypto/signature.js';
import { entryFromWire, headSignedBytes, inclusionHolds, proofFromWire } from '../protocol/directory-log.js';

/** Senders must hold a tree head younger than this before encrypting (ENVELOPE.md: e.g. 24 h). */
export const MAX_HEAD_AGE_MS = 24 * 3600 * 1000;
/** Tolerated clock skew for a head time in the future. */
const MAX_HEAD_SKEW_MS = 5 * 60 * 1000;

type Json = Record<string, unknown>;

function b(v: unknown): Uint8Array {
  return (typeof v === 'string' ? fromBase64Url(v) : undefined) ?? new Uint8Array(0);
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : -1;
}

/** A head the directory key signed, decoded. */
export interface CheckedHead {
  readonly size: number;
  readonly headHash: Uint8Array;
  readonly time: number;
}

/**
 * Check a signed head: signature by the pinned directory key, not older than the freshness
 * window, not in the future beyond skew, not smaller than the last head seen.
 * @returns the decoded head, or the rule it broke
 */
export async function checkHead(head: unknown, directoryKey: string, opts: { now?: number; lastSize?: number } = {}): Promise<CheckedHead | string> {
  const s = await cryptoReady();
  const h = (typeof head === 'object' && head !== null ? head : {}) as Json;
  const size = num(h.size);
  const time = num(h.time);
  const headHash = b(h.headHash);
  const key = b(directoryKey);
  const sig = b(h.sig);
  if (size < 1 || time < 0 || headHash.length !== 32 || key.length !== 32 || sig.length !== 64) return 'head malformed';
  if (!ed25519Verify(s, sig, headSignedBytes({ size, headHash, time }), key)) return 'head signature';
  const now = opts.now ?? Date.now();
  if (now - time > MAX_HEAD_AGE_MS || time - now > MAX_HEAD_SKEW_MS) return 'head stale';
  if (opts.lastSize !== undefined && size < opts.lastSize) return 'head rolled back';
  return { size, headHash, time };
}

/**
 * Is `entry` at `proof.seq` in the log whose head was checked?
 * @param entry - published log entry (untrusted JSON)
 * @param proof - `{ seq, entryHash, path }` (untrusted JSON)
 * @param head - output of checkHead
 */
export async function entryIncluded(entry: unknown, proof: unknown, head: CheckedHead): Promise<boolean> {
  const s = await cryptoReady();
  const e = entryFromWire(entry);
  const p = proofFromWire(proof);
  try {
    return e !== undefined && p !== undefined && inclusionHolds(s, e, p, head);
  } catch {
    // Decoded numbers are safe integers, so nothing should throw; a hostile entry is not included either way.
    return false;
  }
}
