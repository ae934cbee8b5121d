/**
 * Device certificates on the client side: build and sign our own, check the ones the directory
 * returns for peers. The format and its signed bytes are protocol/device-cert.ts, the same code
 * the directory checks registrations with.
 */
import { toBase64Url } from '../protocol/crypto/base64url.js';
import { SUITES } from '../protocol/crypto/envelope-types.js';
import { cryptoReady } from '../protocol/crypto/primitives.js';
import {
  certFromWire, certToWire, checkCertKeysAndSignature, MAX_CERT_VALIDITY_MS, sigFromWire, signDeviceCert,
  type DeviceCert, type WireDeviceCert,
} from '../protocol/device-cert.js';
import type { KeySecrets } from './key-secrets.js';

/** Encryption keys live at most 30 days (ENVELOPE.md); the directory refuses longer windows. */
export const CERT_VALIDITY_MS = MAX_CERT_VALIDITY_MS;
// Backdate a little so a gateway clock slightly behind ours does not see a future notBefore.
const BACKDATE_MS = 60 * 1000;

/** The wire form `POST /v1/devices` takes: `{ cert, sig }`, keys base64url. */
export interface DeviceRegistration {
  cert: WireDeviceCert;
  sig: string;
}

/**
 * Build and sign the registration body for this device's current keys.
 * @param k - key-file secrets (identity signs; device keys are published)
 * @param who - participant and device ids
 * @param now - clock (ms)
 */
export async function signRegistration(k: KeySecrets, who: { participant: string; device: string }, now: number = Date.now()): Promise<{ body: DeviceRegistration; cert: DeviceCert }> {
  const s = await cryptoReady();
  const notBefore = now - BACKDATE_MS;
  const cert: DeviceCert = {
    participant: who.participant, deviceId: who.device, sigKey: k.device.sign.publicKey, encKeyX25519: k.device.x25519.publicKey,
    ...(k.device.xwing ? { encKeyXWing: k.device.xwing.publicKey } : {}), notBefore, notAfter: notBefore + CERT_VALIDITY_MS,
    capabilities: k.device.xwing ? [SUITES.classic, SUITES.hybrid] : [SUITES.classic],
  };
  const sig = signDeviceCert(s, cert, k.identity.privateKey);
  return { cert, body: { cert: certToWire(cert), sig: toBase64Url(sig) } };
}

/**
 * Decode a certificate the directory returned and check it ourselves: keys valid and the identity
 * key's signature good. The gateway is not trusted to have done it.
 * @param wire - `cert` as returned
 * @param sig - base64url identity signature
 * @param identityKey - the participant's identity key (pinned on first use)
 * @returns the certificate, or undefined when anything fails
 */
export async function checkPeerCert(wire: unknown, sig: unknown, identityKey: Uint8Array): Promise<DeviceCert | undefined> {
  const s = await cryptoReady();
  const cert = certFromWire(wire);
  const signature = sigFromWire(sig);
  if (!cert || !signature) return undefined;
  return checkCertKeysAndSignature(s, cert, signature, identityKey) === undefined ? cert : undefined;
}
