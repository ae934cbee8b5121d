/**
 * The directory's append-only log (ENVELOPE.md "Log and publication", v1: hash chain plus a
 * signed head; Merkle proofs are v2). Each entry's content hash covers its type, participant,
 * position, gateway time and the participant-signed bytes with their signatures; entries are
 * chained by link = BLAKE2b-256(PAE(domain, prevLink, contentHash)); the directory key signs
 * heads {size, headHash, time}. A client holding an entry, the content hashes after it and a
 * signed head can recompute the chain and know where the entry sits in the log.
 */
import { fromBase64Url, toBase64Url } from './crypto/base64url.js';
import { be64, pae, type PaePart } from './crypto/pae.js';
import { blake2b256, equalBytes } from './crypto/primitives.js';
import { ed25519Sign, ed25519Verify } from './crypto/signature.js';
import type { Sodium } from './crypto/sodium.js';
import { isCount, isString } from './wire-checks.js';
import { certFromWire, certSignedBytes, revokeSignedBytes, rotateSignedBytes, type WireDeviceCert } from './device-cert.js';

/** Entry bodies by type; binary fields base64url. */
export type EntryBody =
  | { type: 'add-participant'; identityKey: string; sig: string }
  | { type: 'add-device'; cert: WireDeviceCert; sig: string }
  | { type: 'revoke'; deviceId: string; time: number; sig: string }
  | { type: 'rotate-identity'; oldKey: string; newKey: string; time: number; sigOld: string; sigNew: string };

/** One log entry as stored and published. */
export type LogEntry = EntryBody & {
  readonly seq: number;
  readonly participant: string;
  /** Gateway clock when logged (epoch ms): what revocation takes effect from. */
  readonly at: number;
  /** base64url link hash of the previous entry (32 zero bytes for the first). */
  readonly prev: string;
  /** base64url link hash of this entry. */
  readonly hash: string;
};

/** A signed head of the log. */
export interface SignedHead {
  size: number;
  /** base64url link hash of the last entry. */
  headHash: string;
  time: number;
  /** base64url Ed25519 signature by the directory key. */
  sig: string;
}

/** Chain start: the "previous link" of entry 0. */
export const GENESIS = new Uint8Array(32);

function bytes(v: string): Uint8Array {
  return fromBase64Url(v) ?? new Uint8Array(0);
}

/** The bytes the bootstrap signer (the directory key) signs for an add-participant entry. */
export function addParticipantSignedBytes(participant: string, identityKey: Uint8Array): Uint8Array {
  return pae(['passerelle/identity/v1', participant, identityKey]);
}

function bodyParts(participant: string, b: EntryBody): PaePart[] {
  switch (b.type) {
    case 'add-participant':
      return [addParticipantSignedBytes(participant, bytes(b.identityKey)), bytes(b.sig)];
    case 'add-device': {
      const cert = certFromWire(b.cert);
      return [cert ? certSignedBytes(cert) : new Uint8Array(0), bytes(b.sig)];
    }
    case 'revoke':
      return [revokeSignedBytes({ participant, deviceId: b.deviceId, time: b.time }), bytes(b.sig)];
    case 'rotate-identity':
      return [rotateSignedBytes({ participant, oldKey: bytes(b.oldKey), newKey: bytes(b.newKey), time: b.time }), bytes(b.sigOld), bytes(b.sigNew)];
    default:
      return b satisfies never;
  }
}

/**
 * Content hash of an entry (everything but its chain links).
 * @param s - libsodium
 * @param e - entry fields
 */
export function contentHash(s: Sodium, e: EntryBody & { seq: number; participant: string; at: number }): Uint8Array {
  return blake2b256(s, pae(['passerelle/directory/entry/v1', e.type, e.participant, be64(e.seq), be64(e.at), ...bodyParts(e.participant, e)]));
}

/**
 * Chain link: BLAKE2b-256(PAE("passerelle/directory/link/v1", prev, contentHash)).
 * @param s - libsodium
 */
export function linkHash(s: Sodium, prev: Uint8Array, content: Uint8Array): Uint8Array {
  return blake2b256(s, pae(['passerelle/directory/link/v1', prev, content]));
}

/**
 * Seal an entry draft into the chain.
 * @param s - libsodium
 * @param draft - body, participant and gateway time
 * @param seq - position
 * @param prev - link hash of the previous entry (GENESIS for the first)
 */
export function chainEntry(s: Sodium, draft: EntryBody & { participant: string; at: number }, seq: number, prev: Uint8Array): LogEntry {
  const hash = linkHash(s, prev, contentHash(s, { ...draft, seq }));
  return { ...draft, seq, prev: toBase64Url(prev), hash: toBase64Url(hash) };
}

/** Bytes the directory key signs for a head. */
export function headSignedBytes(h: { size: number; headHash: Uint8Array; time: number }): Uint8Array {
  return pae(['passerelle/directory/head/v1', be64(h.size), h.headHash, be64(h.time)]);
}

/**
 * Sign a head with the directory key.
 * @param s - libsodium
 * @param h - size, head hash, time
 * @param directorySecretKey - 64-byte Ed25519 secret key
 */
export function signHead(s: Sodium, h: { size: number; headHash: Uint8Array; time: number }, directorySecretKey: Uint8Array): SignedHead {
  return { size: h.size, headHash: toBase64Url(h.headHash), time: h.time, sig: toBase64Url(ed25519Sign(s, headSignedBytes(h), directorySecretKey)) };
}

/** Where a published entry sits: its position, its link hash, and the content hashes after it. */
export interface InclusionProof {
  seq: number;
  entryHash: string;
  /** base64url content hashes of entries seq+1 … size-1, in order. */
  path: string[];
}

/**
 * Client-side check that `entry` is at `proof.seq` in the log whose head the directory signed:
 * the head's signature, then inclusionHolds.
 * @param s - libsodium
 * @param entry - the published entry
 * @param proof - position proof
 * @param head - signed head
 * @param directoryKey - pinned directory public key
 */
export function verifyInclusion(s: Sodium, entry: LogEntry, proof: InclusionProof, head: SignedHead, directoryKey: Uint8Array): boolean {
  const headHash = fromBase64Url(head.headHash);
  const sig = fromBase64Url(head.sig);
  if (!headHash || !sig || !ed25519Verify(s, sig, headSignedBytes({ size: head.size, headHash, time: head.time }), directoryKey)) return false;
  return inclusionHolds(s, entry, proof, { size: head.size, headHash });
}

/**
 * Is `entry` at `proof.seq` in a log of `head.size` entries ending in `head.headHash` (a head
 * whose signature the caller checked)? Recomputes the entry's link from its content, folds the
 * later content hashes, compares with the head hash.
 * @param s - libsodium
 */
export function inclusionHolds(s: Sodium, entry: LogEntry, proof: InclusionProof, head: { size: number; headHash: Uint8Array }): boolean {
  if (proof.seq !== entry.seq || proof.path.length !== head.size - 1 - proof.seq) return false;
  const prev = fromBase64Url(entry.prev);
  if (!prev) return false;
  let h = linkHash(s, prev, contentHash(s, entry));
  if (!equalBytes(s, h, bytes(proof.entryHash)) || !equalBytes(s, h, bytes(entry.hash))) return false;
  for (const c of proof.path) {
    const content = fromBase64Url(c);
    if (!content) return false;
    h = linkHash(s, h, content);
  }
  return equalBytes(s, h, head.headHash);
}

/**
 * Structural decode of a published entry (untrusted JSON): the fields its type needs, with their
 * types; hashes and signatures are checked by inclusionHolds and the caller.
 * @returns the entry, or undefined when a field is missing or of the wrong type
 */
export function entryFromWire(v: unknown): LogEntry | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const e = v as Record<string, unknown>;
  if (!isCount(e.seq) || !isCount(e.at) || !isString(e.participant) || !isString(e.prev) || !isString(e.hash)) return undefined;
  const head = { seq: e.seq, at: e.at, participant: e.participant, prev: e.prev, hash: e.hash };
  switch (e.type) {
    case 'add-participant':
      return isString(e.identityKey) && isString(e.sig) ? { ...head, type: e.type, identityKey: e.identityKey, sig: e.sig } : undefined;
    case 'add-device':
      return typeof e.cert === 'object' && e.cert !== null && isString(e.sig) ? { ...head, type: e.type, cert: e.cert as WireDeviceCert, sig: e.sig } : undefined;
    case 'revoke':
      return isString(e.deviceId) && isCount(e.time) && isString(e.sig) ? { ...head, type: e.type, deviceId: e.deviceId, time: e.time, sig: e.sig } : undefined;
    case 'rotate-identity':
      return isString(e.oldKey) && isString(e.newKey) && isCount(e.time) && isString(e.sigOld) && isString(e.sigNew)
        ? { ...head, type: e.type, oldKey: e.oldKey, newKey: e.newKey, time: e.time, sigOld: e.sigOld, sigNew: e.sigNew } : undefined;
    default:
      return undefined;
  }
}

/** Structural decode of a position proof (untrusted JSON). */
export function proofFromWire(v: unknown): InclusionProof | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const p = v as Record<string, unknown>;
  return isCount(p.seq) && isString(p.entryHash) && Array.isArray(p.path) && p.path.every(isString) ? { seq: p.seq, entryHash: p.entryHash, path: p.path } : undefined;
}
