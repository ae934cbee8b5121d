import sodiumModule from 'libsodium-wrappers';

export type Sodium = typeof sodiumModule;

/** Every libsodium function the project calls; checked once at boot so a bad build fails fast. */
const REQUIRED = [
  'crypto_aead_xchacha20poly1305_ietf_encrypt',
  'crypto_aead_xchacha20poly1305_ietf_decrypt',
  'crypto_aead_xchacha20poly1305_ietf_keygen',
  'randombytes_buf',
  'memcmp',
] as const;

let ready: Promise<Sodium> | undefined;

/**
 * The initialised libsodium instance. One `await sodium.ready` for the whole process.
 * @param extra - further function names a caller depends on, checked too
 */
export function loadSodium(extra: readonly string[] = []): Promise<Sodium> {
  ready ??= sodiumModule.ready.then(() => sodiumModule);
  return ready.then((s) => {
    const table = s as unknown as Record<string, unknown>;
    const missing = [...REQUIRED, ...extra].filter((name) => typeof table[name] !== 'function');
    if (missing.length > 0) throw new Error(`libsodium build lacks: ${missing.join(', ')}`);
    return s;
  });
}
