/**
 * Device certificates on the client side: build and sign our own, check the ones the directory
 * returns for peers. The signed bytes must be byte-identical to the directory's
 * (gateway/directory/device-cert.ts, `certSignedBytes`); the client may import only gateway/crypto
 * and gateway/core, so the encoding is restated here and the e2e test proves both agree (a
 * mismatch makes registration fail with `signature`).
 *
 *   PAE("passerelle/device-cert/v1", participant, deviceId, sigKey, encKeyX25519, encKeyXWing|"",
 *       be64(notBefore), be64(notAfter), be64(#capabilities), capabilities…)
 */
import { fromBase64Url, toBase64Url } from '../gateway/crypto/base64url.js';
import { SUITES, type Suite } from '../gateway/crypto/envelope-types.js';
import { checkEd25519PublicKey, checkX25519PublicKey, checkXWingPublicKey } from '../gateway/crypto/keys.js';
import { be64, pae } from '../gateway/crypto/pae.js';
import { cryptoReady } from '../gateway/crypto/primitives.js';
import { ed25519Sign, ed25519Verify } from '../gateway/crypto/signature.js';
import type { KeySecrets } from './key-secrets.js';

/** Encryption keys live at most 30 days (ENVELOPE.md); the directory refuses longer windows. */
export const CERT_VALIDITY_MS = 30 * 24 * 3600 * 1000;
// Backdate a little so a gateway clock slightly behind ours does not see a future notBefore.
const BACKDATE_MS = 60 * 1000;

/** A device certificate with binary keys. */
export interface ClientDeviceCert {
  readonly participant: string;
  readonly deviceId: string;
  readonly sigKey: Uint8Array;
  readonly encKeyX25519: Uint8Array;
  readonly encKeyXWing?: Uint8Array | undefined;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly capabilities: readonly Suite[];
}

/** The wire form `POST /v1/devices` takes: `{ cert, sig }`, keys base64url. */
export interface DeviceRegistration {
  cert: {
    participant: string; deviceId: string; sigKey: string; encKeyX25519: string; encKeyXWing?: string;
    notBefore: number; notAfter: number; capabilities: string[];
  };
  sig: string;
}

/** The bytes the identity key signs. */
export function certBytes(c: ClientDeviceCert): Uint8Array {
  return pae([
    'passerelle/device-cert/v1', c.participant, c.deviceId, c.sigKey, c.encKeyX25519, c.encKeyXWing ?? new Uint8Array(0),
    be64(c.notBefore), be64(c.notAfter), be64(c.capabilities.length), ...c.capabilities,
  ]);
}

/**
 * Build and sign the registration body for this device's current keys.
 * @param k - key-file secrets (identity signs; device keys are published)
 * @param who - participant and device ids
 * @param now - clock (ms)
 */
export async function signRegistration(k: KeySecrets, who: { participant: string; device: string }, now: number = Date.now()): Promise<{ body: DeviceRegistration; cert: ClientDeviceCert }> {
  const s = await cryptoReady();
  const notBefore = now - BACKDATE_MS;
  const cert: ClientDeviceCert = {
    participant: who.participant, deviceId: who.device, sigKey: k.device.sign.publicKey, encKeyX25519: k.device.x25519.publicKey,
    encKeyXWing: k.device.xwing?.publicKey, notBefore, notAfter: notBefore + CERT_VALIDITY_MS,
    capabilities: k.device.xwing ? [SUITES.classic, SUITES.hybrid] : [SUITES.classic],
  };
  const sig = ed25519Sign(s, certBytes(cert), k.identity.privateKey);
  return { cert, body: { cert: certToWire(cert), sig: toBase64Url(sig) } };
}

function certToWire(c: ClientDeviceCert): DeviceRegistration['cert'] {
  return {
    participant: c.participant, deviceId: c.deviceId, sigKey: toBase64Url(c.sigKey), encKeyX25519: toBase64Url(c.encKeyX25519),
    ...(c.encKeyXWing ? { encKeyXWing: toBase64Url(c.encKeyXWing) } : {}),
    notBefore: c.notBefore, notAfter: c.notAfter, capabilities: [...c.capabilities],
  };
}

/**
 * Structural decode of a wire certificate (no key or signature checks).
 * @returns the certificate, or undefined when a field is missing or of the wrong type
 */
export function decodeCert(wire: unknown): ClientDeviceCert | undefined {
  if (typeof wire !== 'object' || wire === null) return undefined;
  const o = wire as Record<string, unknown>;
  const b = (v: unknown): Uint8Array | undefined => (typeof v === 'string' ? fromBase64Url(v) : undefined);
  const sigKey = b(o.sigKey);
  const x = b(o.encKeyX25519);
  const xw = o.encKeyXWing === undefined ? undefined : b(o.encKeyXWing);
  const caps = Array.isArray(o.capabilities) ? o.capabilities.filter((c): c is Suite => c === SUITES.classic || c === SUITES.hybrid) : [];
  if (typeof o.participant !== 'string' || typeof o.deviceId !== 'string' || !sigKey || !x || (o.encKeyXWing !== undefined && !xw)
    || typeof o.notBefore !== 'number' || typeof o.notAfter !== 'number'
    || !Array.isArray(o.capabilities) || caps.length !== o.capabilities.length) return undefined;
  return { participant: o.participant, deviceId: o.deviceId, sigKey, encKeyX25519: x, encKeyXWing: xw, notBefore: o.notBefore, notAfter: o.notAfter, capabilities: caps };
}

/**
 * Decode a certificate the directory returned and check it ourselves: keys valid and the identity
 * key's signature good. The gateway is not trusted to have done it.
 * @param wire - `cert` as returned
 * @param sig - base64url identity signature
 * @param identityKey - the participant's identity key (pinned on first use)
 * @returns the certificate, or undefined when anything fails
 */
export async function checkPeerCert(wire: unknown, sig: unknown, identityKey: Uint8Array): Promise<ClientDeviceCert | undefined> {
  const s = await cryptoReady();
  const cert = decodeCert(wire);
  const signature = typeof sig === 'string' ? fromBase64Url(sig) : undefined;
  if (!cert || signature?.length !== 64) return undefined;
  if (!checkEd25519PublicKey(s, cert.sigKey).ok || !checkX25519PublicKey(s, cert.encKeyX25519).ok
    || (cert.encKeyXWing && !checkXWingPublicKey(s, cert.encKeyXWing).ok)) return undefined;
  return ed25519Verify(s, signature, certBytes(cert), identityKey) ? cert : undefined;
}
