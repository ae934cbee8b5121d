/**
 * Building blocks of passerelle.envelope.v1 shared by seal, open and verifyOuter: the signed bytes,
 * the payload AAD, the key commitment and the per-suite key wraps. Low level: applications call
 * sealEnvelope / openEnvelope / verifyOuter; tests use these to build hostile envelopes.
 */
import type { Sodium } from './sodium.js';
import { be64, pae, type PaePart } from './pae.js';
import { SUITES, type Envelope, type EnvelopeClass, type Suite } from './envelope-types.js';
import { blake2b256, blake2b512, concatBytes, equalBytes, SIZES, xchachaDecrypt, xchachaEncrypt } from './primitives.js';

const utf8 = new TextEncoder();
const COMMIT_LABEL = utf8.encode('passerelle/v1/commit');
const ZERO_NONCE = new Uint8Array(SIZES.xnonce);

/** The header fields the payload AAD binds (ENVELOPE.md §3 "AAD"). */
export interface AadFields {
  readonly suite: Suite;
  readonly id: Uint8Array;
  readonly ts: number;
  readonly expires: number;
  readonly from: { readonly participant: string; readonly device: string; readonly kid: Uint8Array };
  readonly to: readonly { readonly participant: string }[];
}

/**
 * Recipient participants, de-duplicated and sorted (UTF-16 code unit order; ids are ASCII slugs).
 * @param to - outer recipients
 */
export function recipientParticipants(to: readonly { readonly participant: string }[]): string[] {
  return [...new Set(to.map((r) => r.participant))].sort();
}

/**
 * AAD = BLAKE2b-256(PAE("passerelle/payload/v1", suite, id, ts, expires, from.*, sorted participants)).
 * @param s - libsodium
 * @param f - header fields
 */
export function payloadAad(s: Sodium, f: AadFields): Uint8Array {
  return blake2b256(s, pae([
    'passerelle/payload/v1', f.suite, f.id, be64(f.ts), be64(f.expires),
    f.from.participant, f.from.device, f.from.kid,
    ...recipientParticipants(f.to),
  ]));
}

/**
 * commit = BLAKE2b-256(key=K, "passerelle/v1/commit" ‖ id): binds the content key to the envelope
 * so every recipient can prove it holds the same K (XChaCha20-Poly1305 is not key-committing).
 * @param s - libsodium
 * @param k - 32-byte content key
 * @param id - 16-byte envelope id
 */
export function commitFor(s: Sodium, k: Uint8Array, id: Uint8Array): Uint8Array {
  return blake2b256(s, concatBytes(COMMIT_LABEL, id), k);
}

/**
 * The bytes the sender signs. ENVELOPE.md §2, plus two amendments recorded in README.md: `class`
 * is signed (the gateway routes on it), and the recipient and attachment counts precede their lists
 * so the flat part list has exactly one parse.
 * @param s - libsodium
 * @param env - the envelope without its signature; `to` must already be sorted by kid
 */
export function signedBytes(s: Sodium, env: Omit<Envelope, 'sig' | 'v'>): Uint8Array {
  const parts: PaePart[] = [
    'passerelle/envelope/v1', env.suite, env.id, be64(env.ts), be64(env.expires), env.class,
    env.from.participant, env.from.device, env.from.kid,
    be64(env.to.length),
  ];
  for (const r of env.to) parts.push(r.participant, r.device, r.kid, r.wrap);
  parts.push(env.commit, env.nonce, blake2b512(s, env.payload), be64(env.attachments.length));
  for (const a of env.attachments) parts.push(a.ref, be64(a.size), a.hash);
  return pae(parts);
}

/** A recipient's public encryption key for the envelope's suite. */
export interface WrapTarget {
  readonly kid: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** The recipient's own key pair for the envelope's suite. */
export interface UnwrapKey {
  readonly kid: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

function xwingWrapKey(s: Sodium, ss: Uint8Array, ct: Uint8Array, pk: Uint8Array, id: Uint8Array, kid: Uint8Array): Uint8Array {
  return blake2b256(s, pae(['passerelle/wrap/v1', ct, pk, id, kid]), ss);
}

/**
 * Wrap the content key for one recipient device (ENVELOPE.md §3 "Per-recipient wrap").
 * @param s - libsodium
 * @param suite - decides X25519 sealed box or X-Wing
 * @param k - content key
 * @param id - envelope id
 * @param to - recipient kid and encryption public key for that suite
 */
export function wrapKey(s: Sodium, suite: Suite, k: Uint8Array, id: Uint8Array, to: WrapTarget): Uint8Array {
  switch (suite) {
    case SUITES.classic:
      // K ‖ id: a wrap cut from one envelope fails in any other.
      return s.crypto_box_seal(concatBytes(k, id), to.publicKey);
    case SUITES.hybrid: {
      const { ciphertext, sharedSecret } = s.crypto_kem_xwing_enc(to.publicKey);
      const wk = xwingWrapKey(s, sharedSecret, ciphertext, to.publicKey, id, to.kid);
      s.memzero(sharedSecret);
      // Zero nonce: wk is fresh per encapsulation, so (wk, nonce) never repeats.
      const sealed = xchachaEncrypt(s, wk, ZERO_NONCE, concatBytes(id, to.kid), k);
      s.memzero(wk);
      return concatBytes(ciphertext, sealed);
    }
    default:
      return suite satisfies never;
  }
}

/**
 * Recover the content key from a wrap.
 * @returns K, or undefined when the wrap does not open under `key` for this id
 */
export function unwrapKey(s: Sodium, suite: Suite, wrap: Uint8Array, id: Uint8Array, key: UnwrapKey): Uint8Array | undefined {
  switch (suite) {
    case SUITES.classic: {
      let plain: Uint8Array;
      try {
        plain = s.crypto_box_seal_open(wrap, key.publicKey, key.privateKey);
      } catch {
        return undefined;
      }
      if (plain.length !== SIZES.key + SIZES.id || !equalBytes(s, plain.subarray(SIZES.key), id)) return undefined;
      return plain.slice(0, SIZES.key);
    }
    case SUITES.hybrid: {
      if (wrap.length !== SIZES.xwingCiphertext + SIZES.key + SIZES.tag) return undefined;
      const ct = wrap.subarray(0, SIZES.xwingCiphertext);
      let ss: Uint8Array;
      try {
        ss = s.crypto_kem_xwing_dec(ct, key.privateKey);
      } catch {
        return undefined;
      }
      const wk = xwingWrapKey(s, ss, ct, key.publicKey, id, key.kid);
      s.memzero(ss);
      const k = xchachaDecrypt(s, wk, ZERO_NONCE, concatBytes(id, key.kid), wrap.subarray(SIZES.xwingCiphertext));
      s.memzero(wk);
      return k?.length === SIZES.key ? k : undefined;
    }
    default:
      return suite satisfies never;
  }
}

/**
 * Encrypt the padded inner plaintext under K.
 * @param s - libsodium
 * @param k - content key
 * @param nonce - 24 random bytes
 * @param aad - payloadAad(...)
 * @param inner - inner JSON bytes (padded here to a 256-byte bucket)
 */
export function encryptPayload(s: Sodium, k: Uint8Array, nonce: Uint8Array, aad: Uint8Array, inner: Uint8Array): Uint8Array {
  return xchachaEncrypt(s, k, nonce, aad, s.pad(inner, SIZES.padBlock));
}

/**
 * Decrypt and unpad the payload.
 * @returns the inner JSON bytes, or undefined on a bad tag or bad padding
 */
export function decryptPayload(s: Sodium, k: Uint8Array, nonce: Uint8Array, aad: Uint8Array, payload: Uint8Array): Uint8Array | undefined {
  const padded = xchachaDecrypt(s, k, nonce, aad, payload);
  if (padded === undefined) return undefined;
  try {
    return s.unpad(padded, SIZES.padBlock);
  } catch {
    return undefined;
  }
}

/** Default offline TTL (ENVELOPE.md: e.g. 30 days): expires = ts + TTL, and the maximum age of ts. */
export const DEFAULT_TTL_MS = 30 * 24 * 3600 * 1000;
/** Largest accepted future skew of the sender's ts (ENVELOPE.md §3 step 4). */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

/** Class default for seal. */
export const DEFAULT_CLASS: EnvelopeClass = 'message';
