/**
 * Checking the directory's published log on the client (ENVELOPE.md "Log and publication", v1:
 * hash chain plus signed head). For every identity and device entry the client relies on, it
 * recomputes the entry's link from its content, folds the later content hashes from the position
 * proof, and requires the result to equal the head hash the directory key signed. It also refuses
 * a head older than the freshness window or smaller than one seen before (a rolled-back log).
 *
 * The encodings restate gateway/directory/log-entry.ts (client/ may import only gateway/crypto and
 * gateway/core); a unit test checks them against the directory's own verifyInclusion.
 */
import { fromBase64Url } from '../gateway/crypto/base64url.js';
import { be64, pae, type PaePart } from '../gateway/crypto/pae.js';
import { blake2b256, cryptoReady, equalBytes } from '../gateway/crypto/primitives.js';
import { ed25519Verify } from '../gateway/crypto/signature.js';
import type { Sodium } from '../gateway/crypto/sodium.js';
import { certBytes, decodeCert } from './device-cert.js';

/** Senders must hold a tree head younger than this before encrypting (ENVELOPE.md: e.g. 24 h). */
export const MAX_HEAD_AGE_MS = 24 * 3600 * 1000;

type Json = Record<string, unknown>;
const EMPTY = new Uint8Array(0);

function b(v: unknown): Uint8Array {
  return (typeof v === 'string' ? fromBase64Url(v) : undefined) ?? EMPTY;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : -1;
}

/** The participant-signed bytes and signatures an entry's content hash covers. */
function bodyParts(e: Json): PaePart[] | undefined {
  const p = String(e.participant);
  switch (e.type) {
    case 'add-participant':
      return [pae(['passerelle/identity/v1', p, b(e.identityKey)]), b(e.sig)];
    case 'add-device': {
      const cert = decodeCert(e.cert);
      return cert ? [certBytes(cert), b(e.sig)] : undefined;
    }
    case 'revoke':
      return [pae(['passerelle/device-revoke/v1', p, String(e.deviceId), be64(num(e.time))]), b(e.sig)];
    case 'rotate-identity':
      return [pae(['passerelle/identity-rotate/v1', p, b(e.oldKey), b(e.newKey), be64(num(e.time))]), b(e.sigOld), b(e.sigNew)];
    default:
      return undefined;
  }
}

function link(s: Sodium, prev: Uint8Array, content: Uint8Array): Uint8Array {
  return blake2b256(s, pae(['passerelle/directory/link/v1', prev, content]));
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
  if (!ed25519Verify(s, sig, pae(['passerelle/directory/head/v1', be64(size), headHash, be64(time)]), key)) return 'head signature';
  const now = opts.now ?? Date.now();
  if (now - time > MAX_HEAD_AGE_MS || time - now > 5 * 60 * 1000) return 'head stale';
  if (opts.lastSize !== undefined && size < opts.lastSize) return 'head rolled back';
  return { size, headHash, time };
}

/**
 * Is `entry` at `proof.seq` in the log whose head was checked?
 * @param entry - published log entry
 * @param proof - `{ seq, entryHash, path }`
 * @param head - output of checkHead
 */
export async function entryIncluded(entry: unknown, proof: unknown, head: CheckedHead): Promise<boolean> {
  try {
    return await included(entry, proof, head);
  } catch {
    // A negative or oversized number in a hostile entry makes be64 throw: not included.
    return false;
  }
}

async function included(entry: unknown, proof: unknown, head: CheckedHead): Promise<boolean> {
  const s = await cryptoReady();
  if (typeof entry !== 'object' || entry === null || typeof proof !== 'object' || proof === null) return false;
  const e = entry as Json;
  const p = proof as Json;
  const parts = bodyParts(e);
  const seq = num(e.seq);
  const path = Array.isArray(p.path) ? p.path : undefined;
  if (!parts || seq < 0 || num(p.seq) !== seq || !path || path.length !== head.size - 1 - seq || typeof e.participant !== 'string' || typeof e.type !== 'string') return false;
  const content = blake2b256(s, pae(['passerelle/directory/entry/v1', e.type, e.participant, be64(seq), be64(num(e.at)), ...parts]));
  let h = link(s, b(e.prev), content);
  if (!equalBytes(s, h, b(e.hash)) || !equalBytes(s, h, b(p.entryHash))) return false;
  for (const c of path) h = link(s, h, b(c));
  return equalBytes(s, h, head.headHash);
}
