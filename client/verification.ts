/**
 * What `verify` shows: the safety number between two identity keys (protocol/crypto/safety-number,
 * 60 digits, the same on both sides) and short key fingerprints for each of the peer's devices.
 */
import { toBase64Url } from '../protocol/crypto/base64url.js';
import { kidOf } from '../protocol/crypto/keys.js';
import { cryptoReady } from '../protocol/crypto/primitives.js';
import { formatSafetyNumber, safetyNumber } from '../protocol/crypto/safety-number.js';
import type { Peer } from './directory-view.js';

/** Safety number and fingerprints for one peer. */
export interface Verification {
  readonly participant: string;
  readonly safetyNumber: string;
  readonly ownFingerprint: string;
  readonly peerFingerprint: string;
  readonly trust: 'new' | 'known' | 'confirmed';
  /** The directory answer was proven against a log head signed by the pinned directory key. */
  readonly proven: boolean;
  readonly devices: ReadonlyArray<{ device: string; sigKid: string; encKid: string; notAfter: number; revoked: boolean }>;
}

/** First 100 bits of a key's kid, base64url, in groups of five characters: for reading aloud. */
export async function fingerprint(publicKey: Uint8Array): Promise<string> {
  const s = await cryptoReady();
  return toBase64Url(kidOf(s, publicKey)).slice(0, 20).replace(/(.{5})(?=.)/g, '$1 ');
}

/**
 * Build the verification view.
 * @param ownIdentity - our identity public key
 * @param peer - the peer as the checked directory view returned it
 */
export async function buildVerification(ownIdentity: Uint8Array, peer: Peer): Promise<Verification> {
  const devices = [];
  for (const d of peer.devices) {
    const c = d.certs[0]!;
    devices.push({
      device: d.deviceId, sigKid: await fingerprint(c.sigKey), encKid: await fingerprint(c.encKeyXWing ?? c.encKeyX25519),
      notAfter: c.notAfter, revoked: d.revokedAt !== undefined,
    });
  }
  return {
    participant: peer.participant, trust: peer.trust, proven: peer.proven,
    safetyNumber: formatSafetyNumber(await safetyNumber([ownIdentity, peer.identityKey])),
    ownFingerprint: await fingerprint(ownIdentity), peerFingerprint: await fingerprint(peer.identityKey),
    devices,
  };
}
