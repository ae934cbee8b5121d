/**
 * Device certificates (ENVELOPE.md "Key directory"): a participant's identity key signs, over
 * PAE-encoded canonical bytes, the keys of one of its devices and their validity window. Also the
 * signed bytes of revocations and identity rotations. Pure crypto: clients use it to sign, the
 * gateway to check.
 */
import { fromBase64Url, toBase64Url } from './crypto/base64url.js';
import { SLUG, SUITES, type Suite } from './crypto/envelope-types.js';
import { checkEd25519PublicKey, checkX25519PublicKey, checkXWingPublicKey, kidOf } from './crypto/keys.js';
import { be64, pae } from './crypto/pae.js';
import { SIZES } from './crypto/primitives.js';
import { ed25519Sign, ed25519Verify } from './crypto/signature.js';
import type { Sodium } from './crypto/sodium.js';

/** Encryption keys live at most 30 days (ENVELOPE.md: the forward-secrecy window). */
export const MAX_CERT_VALIDITY_MS = 30 * 24 * 3600 * 1000;
/** Tolerated clock skew for a notBefore in the future. */
export const MAX_CERT_SKEW_MS = 5 * 60 * 1000;

/** A device's published keys, as the identity key signs them. */
export interface DeviceCert {
  readonly participant: string;
  readonly deviceId: string;
  readonly sigKey: Uint8Array;
  readonly encKeyX25519: Uint8Array;
  readonly encKeyXWing?: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly capabilities: readonly Suite[];
}

/** Wire JSON of a device certificate (keys base64url, times epoch ms). */
export interface WireDeviceCert {
  participant: string;
  deviceId: string;
  sigKey: string;
  encKeyX25519: string;
  encKeyXWing?: string;
  notBefore: number;
  notAfter: number;
  capabilities: string[];
}

/** Why a certificate, revocation or rotation was refused. Stable: tests and clients switch on it. */
export type CertRejection =
  | 'malformed' | 'sig-key' | 'x25519-key' | 'xwing-key' | 'capabilities' | 'validity' | 'expired' | 'not-yet-valid' | 'signature';

const KNOWN_SUITES: ReadonlySet<string> = new Set(Object.values(SUITES));
const EMPTY = new Uint8Array(0);

/**
 * The bytes an identity key signs for a device certificate.
 * @param cert - the certificate
 */
export function certSignedBytes(cert: DeviceCert): Uint8Array {
  return pae([
    'passerelle/device-cert/v1', cert.participant, cert.deviceId, cert.sigKey, cert.encKeyX25519, cert.encKeyXWing ?? EMPTY,
    be64(cert.notBefore), be64(cert.notAfter), be64(cert.capabilities.length), ...cert.capabilities,
  ]);
}

/**
 * The bytes an identity key signs to revoke one of its devices.
 * @param r - participant, device and the signer's clock (the gateway's logged time is what counts)
 */
export function revokeSignedBytes(r: { participant: string; deviceId: string; time: number }): Uint8Array {
  return pae(['passerelle/device-revoke/v1', r.participant, r.deviceId, be64(r.time)]);
}

/**
 * The bytes both the old and the new identity key sign to rotate a participant's identity.
 * @param r - participant, old and new keys, signer's clock
 */
export function rotateSignedBytes(r: { participant: string; oldKey: Uint8Array; newKey: Uint8Array; time: number }): Uint8Array {
  return pae(['passerelle/identity-rotate/v1', r.participant, r.oldKey, r.newKey, be64(r.time)]);
}

/**
 * Sign a device certificate with the participant's identity key (client side).
 * @param s - libsodium
 * @param cert - certificate
 * @param identitySecretKey - 64-byte Ed25519 secret key
 */
export function signDeviceCert(s: Sodium, cert: DeviceCert, identitySecretKey: Uint8Array): Uint8Array {
  return ed25519Sign(s, certSignedBytes(cert), identitySecretKey);
}

/** Wire JSON of a certificate. */
export function certToWire(cert: DeviceCert): WireDeviceCert {
  return {
    participant: cert.participant, deviceId: cert.deviceId, sigKey: toBase64Url(cert.sigKey),
    encKeyX25519: toBase64Url(cert.encKeyX25519),
    ...(cert.encKeyXWing ? { encKeyXWing: toBase64Url(cert.encKeyXWing) } : {}),
    notBefore: cert.notBefore, notAfter: cert.notAfter, capabilities: [...cert.capabilities],
  };
}

function b64(v: unknown): Uint8Array | undefined {
  return typeof v === 'string' ? fromBase64Url(v) : undefined;
}

function time(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/**
 * Structural decode of a wire certificate (no key or validity checks yet).
 * @returns the certificate, or undefined when a field is missing, unknown or of the wrong type
 */
export function certFromWire(value: unknown): DeviceCert | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  const allowed = ['participant', 'deviceId', 'sigKey', 'encKeyX25519', 'encKeyXWing', 'notBefore', 'notAfter', 'capabilities'];
  if (Object.keys(o).some((k) => !allowed.includes(k))) return undefined;
  const sigKey = b64(o.sigKey);
  const encKeyX25519 = b64(o.encKeyX25519);
  const encKeyXWing = o.encKeyXWing === undefined ? undefined : b64(o.encKeyXWing);
  const notBefore = time(o.notBefore);
  const notAfter = time(o.notAfter);
  const caps = o.capabilities;
  if (typeof o.participant !== 'string' || !SLUG.test(o.participant) || typeof o.deviceId !== 'string' || !SLUG.test(o.deviceId)
    || !sigKey || !encKeyX25519 || (o.encKeyXWing !== undefined && !encKeyXWing) || notBefore === undefined || notAfter === undefined
    || !Array.isArray(caps) || caps.length > 8 || !caps.every((c) => typeof c === 'string')) return undefined;
  return {
    participant: o.participant, deviceId: o.deviceId, sigKey, encKeyX25519, ...(encKeyXWing ? { encKeyXWing } : {}),
    notBefore, notAfter, capabilities: caps as Suite[],
  };
}

/** Every key valid (ENVELOPE.md "Key validation at registration"), capabilities known and backed by a key. */
function checkKeys(s: Sodium, cert: DeviceCert): CertRejection | undefined {
  if (!checkEd25519PublicKey(s, cert.sigKey).ok) return 'sig-key';
  if (!checkX25519PublicKey(s, cert.encKeyX25519).ok) return 'x25519-key';
  if (cert.encKeyXWing !== undefined && !checkXWingPublicKey(s, cert.encKeyXWing).ok) return 'xwing-key';
  if (cert.capabilities.length === 0 || new Set(cert.capabilities).size !== cert.capabilities.length
    || cert.capabilities.some((c) => !KNOWN_SUITES.has(c))
    || (cert.capabilities.includes(SUITES.hybrid) && cert.encKeyXWing === undefined)) return 'capabilities';
  return undefined;
}

/**
 * What holds whenever a certificate is used: its keys and capabilities (as at registration) and
 * the identity key's signature. A client checks this on every certificate the directory hands
 * it; the validity window is the directory's to enforce (checkDeviceCert) and the client's view
 * to judge.
 * @param s - libsodium
 * @param cert - decoded certificate
 * @param sig - identity signature over certSignedBytes
 * @param identityKey - the participant's identity key
 * @returns undefined when acceptable, else the rule broken
 */
export function checkCertKeysAndSignature(s: Sodium, cert: DeviceCert, sig: Uint8Array, identityKey: Uint8Array): CertRejection | undefined {
  return checkKeys(s, cert) ?? (ed25519Verify(s, sig, certSignedBytes(cert), identityKey) ? undefined : 'signature');
}

/**
 * Registration-time checks: keys and capabilities, a validity of at most 30 days that is current
 * at `now`, and the identity key's signature.
 * @param s - libsodium
 * @param cert - decoded certificate
 * @param sig - identity signature over certSignedBytes
 * @param identityKey - the participant's current identity key
 * @param now - gateway clock
 * @returns undefined when acceptable, else the rule broken
 */
export function checkDeviceCert(s: Sodium, cert: DeviceCert, sig: Uint8Array, identityKey: Uint8Array, now: number): CertRejection | undefined {
  const keys = checkKeys(s, cert);
  if (keys) return keys;
  if (cert.notAfter <= cert.notBefore || cert.notAfter - cert.notBefore > MAX_CERT_VALIDITY_MS) return 'validity';
  if (cert.notAfter <= now) return 'expired';
  if (cert.notBefore > now + MAX_CERT_SKEW_MS) return 'not-yet-valid';
  if (!ed25519Verify(s, sig, certSignedBytes(cert), identityKey)) return 'signature';
  return undefined;
}

/**
 * kid of a device's encryption key for a suite (what envelopes name recipients by).
 * @returns undefined when the device has no key for that suite
 */
export function encKid(s: Sodium, cert: DeviceCert, suite: Suite): Uint8Array | undefined {
  if (suite === SUITES.hybrid) return cert.encKeyXWing ? kidOf(s, cert.encKeyXWing) : undefined;
  return kidOf(s, cert.encKeyX25519);
}

/** A 64-byte signature from base64url, or undefined. */
export function sigFromWire(v: unknown): Uint8Array | undefined {
  const sig = b64(v);
  return sig?.length === SIZES.sig ? sig : undefined;
}
