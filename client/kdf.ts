/**
 * Passphrase → key-file key. The brief asks for libsodium `crypto_pwhash` (Argon2id); the standard
 * libsodium-wrappers build the project pins does not export it (only the -sumo build does), and
 * Node 20 has no built-in Argon2. So:
 *   - when `libsodium-wrappers-sumo` is installed, new key files use Argon2id with
 *     opslimit (t) 3 and memlimit 64 MiB (p = 1, libsodium's only choice): RFC 9106 §4's second
 *     recommended setting, about 0.75 s in WASM, paid on every CLI command that opens the file.
 *     libsodium's MODERATE pair (3, 256 MiB) measured 2.5 s here: too slow per command;
 *   - otherwise scrypt from node:crypto (N = 2^17, r = 8, p = 1: 128 MiB, OWASP's scrypt floor
 *     raised one step), which is memory-hard and needs no new dependency.
 * The algorithm and its parameters are written in the file and authenticated (AAD), so a file
 * made with one works wherever that algorithm is available, and nobody can weaken them silently.
 */
import { scrypt } from 'node:crypto';
import { GatewayError } from '../protocol/errors.js';

/** Argon2id13 parameters (libsodium crypto_pwhash). */
export interface Argon2idParams {
  readonly alg: 'argon2id13';
  readonly opslimit: number;
  /** Bytes. */
  readonly memlimit: number;
  /** base64url, 16 bytes. */
  readonly salt: string;
}

/** scrypt parameters (node:crypto). */
export interface ScryptParams {
  readonly alg: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  /** base64url, 16 bytes. */
  readonly salt: string;
}

/** A KDF description as stored in the key file. */
export type KdfParams = Argon2idParams | ScryptParams;

/** Argon2id cost for new files (RFC 9106 §4, second recommended option: t = 3, m = 64 MiB). */
export const ARGON2ID_DEFAULTS = { opslimit: 3, memlimit: 64 * 1024 * 1024 } as const;
/** scrypt cost for new files (128 · r · N bytes = 128 MiB). */
export const SCRYPT_DEFAULTS = { N: 2 ** 17, r: 8, p: 1 } as const;

// Floors below which a stored file is refused: its parameters are authenticated, but a file made
// by a buggy or hostile tool with trivial cost should not be accepted as "protected".
const MIN_ARGON2_OPS = 2;
const MIN_ARGON2_MEM = 64 * 1024 * 1024;
const MIN_SCRYPT_N = 2 ** 15;

interface PwhashSodium {
  ready: Promise<unknown>;
  crypto_pwhash(keyLength: number, password: Uint8Array, salt: Uint8Array, opsLimit: number, memLimit: number, algorithm: number): Uint8Array;
  crypto_pwhash_ALG_ARGON2ID13: number;
}

let pwhash: Promise<PwhashSodium | undefined> | undefined;

/** libsodium with crypto_pwhash (the -sumo build), if installed. */
export function loadPwhash(): Promise<PwhashSodium | undefined> {
  pwhash ??= (async () => {
    // A computed specifier: the package is optional and has no type declarations here.
    const name = 'libsodium-wrappers-sumo';
    try {
      const mod = (await import(name)) as { default?: PwhashSodium };
      const s = mod.default;
      if (!s) return undefined;
      await s.ready;
      return typeof s.crypto_pwhash === 'function' ? s : undefined;
    } catch {
      return undefined;
    }
  })();
  return pwhash;
}

/**
 * Parameters for a new key file: Argon2id when available, else scrypt.
 * @param salt - 16 random bytes, base64url
 * @param prefer - force an algorithm (tests); argon2id fails when crypto_pwhash is missing
 */
export async function newKdfParams(salt: string, prefer?: KdfParams['alg']): Promise<KdfParams> {
  const argon = prefer === 'scrypt' ? undefined : await loadPwhash();
  if (argon) return { alg: 'argon2id13', ...ARGON2ID_DEFAULTS, salt };
  if (prefer === 'argon2id13') throw new GatewayError('PSL_DEPENDENCY_MISSING', 'argon2id needs libsodium-wrappers-sumo (crypto_pwhash)');
  return { alg: 'scrypt', ...SCRYPT_DEFAULTS, salt };
}

/**
 * Check stored KDF parameters: known algorithm, cost at or above the floors, sane ceilings.
 * @returns the rule broken, or undefined
 */
export function kdfProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return 'kdf: missing';
  const o = v as Record<string, unknown>;
  if (typeof o.salt !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(o.salt)) return 'kdf.salt: expected 16 bytes base64url';
  const int = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);
  if (o.alg === 'argon2id13') {
    const keys = ['alg', 'opslimit', 'memlimit', 'salt'];
    if (Object.keys(o).some((k) => !keys.includes(k))) return 'kdf: unknown field';
    if (!int(o.opslimit) || o.opslimit < MIN_ARGON2_OPS || o.opslimit > 20) return 'kdf.opslimit: out of range';
    if (!int(o.memlimit) || o.memlimit < MIN_ARGON2_MEM || o.memlimit > 2 ** 31) return 'kdf.memlimit: out of range';
    return undefined;
  }
  if (o.alg === 'scrypt') {
    const keys = ['alg', 'N', 'r', 'p', 'salt'];
    if (Object.keys(o).some((k) => !keys.includes(k))) return 'kdf: unknown field';
    if (!int(o.N) || o.N < MIN_SCRYPT_N || o.N > 2 ** 22 || (o.N & (o.N - 1)) !== 0) return 'kdf.N: out of range';
    if (!int(o.r) || o.r < 8 || o.r > 32 || !int(o.p) || o.p < 1 || o.p > 16) return 'kdf.r/p: out of range';
    return undefined;
  }
  return 'kdf.alg: unknown algorithm';
}

/**
 * Derive the 32-byte key-file key.
 * @param passphrase - UTF-8 passphrase
 * @param params - validated KDF parameters (kdfProblem returned undefined)
 * @param salt - decoded salt bytes
 */
export async function deriveKey(passphrase: string, params: KdfParams, salt: Uint8Array): Promise<Uint8Array> {
  const pw = new TextEncoder().encode(passphrase);
  try {
    if (params.alg === 'argon2id13') {
      const s = await loadPwhash();
      if (!s) throw new GatewayError('PSL_DEPENDENCY_MISSING', 'this key file uses argon2id: install libsodium-wrappers-sumo (crypto_pwhash)');
      return s.crypto_pwhash(32, pw, salt, params.opslimit, params.memlimit, s.crypto_pwhash_ALG_ARGON2ID13);
    }
    const { N, r, p } = params;
    return await new Promise<Uint8Array>((resolve, reject) => {
      scrypt(pw, salt, 32, { N, r, p, maxmem: 256 * N * r }, (err, key) => (err ? reject(err) : resolve(new Uint8Array(key))));
    });
  } finally {
    pw.fill(0);
  }
}
