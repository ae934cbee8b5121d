import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { decodeKey, readSecret, secretPath } from '../config/secrets.js';
import { kidOf } from '../../protocol/crypto/keys.js';
import { loadSodium } from '../../protocol/crypto/sodium.js';
import type { Logger } from '../log.js';

/** An Ed25519 key pair the gateway holds (directory key, service key). */
export interface GatewayKey {
  readonly publicKey: Uint8Array;
  /** 64-byte libsodium secret key. */
  readonly secretKey: Uint8Array;
  readonly kid: Uint8Array;
}

/**
 * Load an Ed25519 key from a 32-byte seed behind a secret reference. With `generateIfMissing`
 * (development only, `file:` references) a random seed file is created, mode 0600, with a warning,
 * as for the data key: losing the directory key means clients must re-pin.
 * @param ref - secret reference and the dev flag, from gateway.yaml messaging
 * @param dir - config directory
 * @param what - `directoryKey` or `serviceKey` (names the key in logs and errors)
 * @param log - logger
 */
export async function loadGatewayKey(ref: { ref: string; generateIfMissing: boolean }, dir: string, what: string, log: Logger): Promise<GatewayKey> {
  if (ref.generateIfMissing && ref.ref.startsWith('file:')) {
    const path = secretPath(ref.ref, dir);
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
      log.warn({ key: what }, 'generated a development signing key; use a managed key in production');
    }
  }
  const s = await loadSodium(['crypto_sign_seed_keypair', 'crypto_generichash']);
  const seed = decodeKey(readSecret(ref.ref, dir), `messaging.${what}`);
  const kp = s.crypto_sign_seed_keypair(seed);
  s.memzero(seed);
  return { publicKey: kp.publicKey, secretKey: kp.privateKey, kid: kidOf(s, kp.publicKey) };
}
