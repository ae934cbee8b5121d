/**
 * The local key file: a participant's Ed25519 identity key, one device's keys (Ed25519 signing,
 * X25519 and X-Wing encryption), encryption keys retired by rotation (kept for the offline TTL,
 * then deleted), a local storage key, the gateway credentials and pinned peer identity keys.
 *
 * On disk: a small JSON header (public: who, which KDF) and the secrets sealed with
 * XChaCha20-Poly1305 under a key derived from the passphrase (kdf.ts). The whole header is the
 * AEAD's associated data, so editing any of it (participant, KDF cost, identity key shown to the
 * admin) makes the file refuse to open, exactly like a wrong passphrase. Mode 0600, written
 * atomically (temp file + rename), refused when group or others can read it (as ssh does).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { GatewayError } from '../protocol/errors.js';
import { fromBase64Url, toBase64Url } from '../protocol/crypto/base64url.js';
import { generateDeviceKeys } from '../protocol/crypto/keys.js';
import { cryptoReady, xchachaDecrypt, xchachaEncrypt } from '../protocol/crypto/primitives.js';
import { createDurable, writeDurable } from './durable-write.js';
import { deriveKey, kdfProblem, newKdfParams, type KdfParams } from './kdf.js';
import { secretsFromJson, secretsToJson, type KeySecrets } from './key-secrets.js';

export type { KeySecrets, PeerPin, RetiredKey } from './key-secrets.js';

/** Format tag of the file; bump on any incompatible change. */
export const KEYFILE_FORMAT = 'passerelle-client-keyfile/1';
const MAX_FILE_BYTES = 1024 * 1024;

/** The public header of a key file. */
export interface KeyFileHeader {
  readonly format: typeof KEYFILE_FORMAT;
  readonly participant: string;
  readonly device: string;
  /** base64url Ed25519 identity public key (what the admin pastes into participants.yaml). */
  readonly identityKey: string;
  readonly kdf: KdfParams;
  readonly cipher: 'xchacha20poly1305-ietf';
}

function aadOf(h: KeyFileHeader): Uint8Array {
  // Fixed field order: the AAD must not depend on how JSON.parse ordered keys.
  const kdf = h.kdf.alg === 'argon2id13'
    ? [h.kdf.alg, h.kdf.opslimit, h.kdf.memlimit, h.kdf.salt]
    : [h.kdf.alg, h.kdf.N, h.kdf.r, h.kdf.p, h.kdf.salt];
  return new TextEncoder().encode(JSON.stringify([h.format, h.participant, h.device, h.identityKey, kdf, h.cipher]));
}

function refused(message: string, cause?: unknown): GatewayError {
  return new GatewayError('PSL_AUTH_INVALID', message, cause === undefined ? {} : { cause });
}

/** An open key file: secrets in memory, the derived key kept so saves need no new KDF run. */
export class KeyFile {
  readonly path: string;
  readonly header: KeyFileHeader;
  /** Mutable on purpose: rotate, register and pin update it, then call save(). */
  readonly secrets: KeySecrets;
  readonly #key: Uint8Array;

  private constructor(path: string, header: KeyFileHeader, secrets: KeySecrets, key: Uint8Array) {
    this.path = path;
    this.header = header;
    this.secrets = secrets;
    this.#key = key;
  }

  /**
   * Create a new key file with fresh device keys and a fresh identity key (or the participant's
   * existing one, for a further device of the same participant). Never overwrites.
   * @param options.kdf - force a KDF algorithm (default: argon2id when available, else scrypt)
   * @param options.identity - reuse this identity key pair (and these pins) instead of a new one
   */
  static async create(options: {
    path: string; participant: string; device: string; passphrase: string; xwing?: boolean; kdf?: KdfParams['alg'];
    identity?: { publicKey: Uint8Array; privateKey: Uint8Array }; pins?: KeySecrets['pins'];
  }): Promise<KeyFile> {
    if (options.passphrase.length < 8) throw new GatewayError('PSL_BAD_REQUEST', 'passphrase: at least 8 characters');
    const s = await cryptoReady();
    const identity = options.identity ?? s.crypto_sign_keypair();
    const dev = await generateDeviceKeys({ xwing: options.xwing ?? true });
    const header: KeyFileHeader = {
      format: KEYFILE_FORMAT, participant: options.participant, device: options.device,
      identityKey: toBase64Url(identity.publicKey),
      kdf: await newKdfParams(toBase64Url(randomBytes(16)), options.kdf), cipher: 'xchacha20poly1305-ietf',
    };
    const key = await deriveKey(options.passphrase, header.kdf, fromBase64Url(header.kdf.salt)!);
    const secrets: KeySecrets = {
      identity: { publicKey: identity.publicKey, privateKey: identity.privateKey },
      device: {
        sign: { publicKey: dev.sign.publicKey, privateKey: dev.sign.privateKey },
        x25519: { publicKey: dev.x25519.publicKey, privateKey: dev.x25519.privateKey },
        ...(dev.xwing ? { xwing: { publicKey: dev.xwing.publicKey, privateKey: dev.xwing.privateKey } } : {}),
      },
      retired: [],
      storageKey: s.crypto_aead_xchacha20poly1305_ietf_keygen(),
      pins: structuredClone(options.pins ?? {}),
    };
    const file = new KeyFile(options.path, header, secrets, key);
    try {
      await file.#write('wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Never replace existing keys: they may be the only copy of this participant's identity.
      throw new GatewayError('PSL_BAD_REQUEST', `${options.path} already exists; keys are never overwritten (use another --dir)`, { cause: err });
    }
    return file;
  }

  /**
   * Open and decrypt a key file.
   * @throws GatewayError PSL_AUTH_INVALID for a wrong passphrase, a modified file or loose permissions
   */
  static async open(path: string, passphrase: string): Promise<KeyFile> {
    let st;
    try {
      st = statSync(path);
    } catch (cause) {
      throw new GatewayError('PSL_NOT_FOUND', `key file not found: ${path} (run \`passerelle-client init\` first)`, { cause });
    }
    // ssh's rule: a private key others can read is already compromised, so say so and stop.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw refused(`key file ${path} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 on it`);
    }
    if (st.size > MAX_FILE_BYTES) throw refused(`key file ${path}: too large`);
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (cause) {
      throw refused(`key file ${path}: not valid JSON`, cause);
    }
    const header = parseHeader(doc);
    const nonce = typeof doc.nonce === 'string' ? fromBase64Url(doc.nonce) : undefined;
    const sealed = typeof doc.sealed === 'string' ? fromBase64Url(doc.sealed) : undefined;
    if (nonce?.length !== 24 || !sealed) throw refused(`key file ${path}: nonce or sealed field malformed`);
    const s = await cryptoReady();
    const key = await deriveKey(passphrase, header.kdf, fromBase64Url(header.kdf.salt)!);
    const plain = xchachaDecrypt(s, key, nonce, aadOf(header), sealed);
    if (plain === undefined) {
      s.memzero(key);
      throw refused(`key file ${path}: wrong passphrase, or the file was modified`);
    }
    const secrets = secretsFromJson(plain);
    s.memzero(plain);
    if (!secrets || toBase64Url(secrets.identity.publicKey) !== header.identityKey) throw refused(`key file ${path}: sealed content is inconsistent`);
    return new KeyFile(path, header, secrets, key);
  }

  /** Write the current secrets back (new nonce, same derived key), atomically. */
  save(): Promise<void> {
    return this.#write('w');
  }

  async #write(flag: 'w' | 'wx'): Promise<void> {
    const s = await cryptoReady();
    const nonce = s.randombytes_buf(24);
    const plain = secretsToJson(this.secrets);
    const sealed = xchachaEncrypt(s, this.#key, nonce, aadOf(this.header), plain);
    s.memzero(plain);
    const text = `${JSON.stringify({ ...this.header, nonce: toBase64Url(nonce), sealed: toBase64Url(sealed) }, null, 2)}\n`;
    if (flag === 'wx') createDurable(this.path, text);
    else writeDurable(this.path, text);
  }

  /** Forget key material held in memory (best effort: JS copies are out of reach). */
  close(): void {
    this.#key.fill(0);
  }
}

function parseHeader(doc: Record<string, unknown>): KeyFileHeader {
  if (doc.format !== KEYFILE_FORMAT) throw refused('key file: unknown format (expected passerelle-client-keyfile/1)');
  if (typeof doc.participant !== 'string' || typeof doc.device !== 'string' || typeof doc.identityKey !== 'string') {
    throw refused('key file: participant, device or identityKey missing');
  }
  const problem = kdfProblem(doc.kdf);
  if (problem) throw refused(`key file: ${problem}`);
  if (doc.cipher !== 'xchacha20poly1305-ietf') throw refused('key file: unknown cipher');
  const allowed = ['format', 'participant', 'device', 'identityKey', 'kdf', 'cipher', 'nonce', 'sealed'];
  if (Object.keys(doc).some((k) => !allowed.includes(k))) throw refused('key file: unknown field');
  return {
    format: KEYFILE_FORMAT, participant: doc.participant, device: doc.device, identityKey: doc.identityKey,
    kdf: doc.kdf as KdfParams, cipher: 'xchacha20poly1305-ietf',
  };
}
