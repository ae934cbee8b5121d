import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config/schema.js';
import { decodeKey, readSecret, secretPath } from '../config/secrets.js';
import type { Logger } from '../log.js';

/**
 * The data key that encrypts raws and records at rest. With `generateIfMissing` (development only)
 * a random key file is created on first start, mode 0600, with a warning: losing it loses the data.
 */
export function loadDataKey(config: Config, log: Logger): Uint8Array {
  const { ref, generateIfMissing } = config.gateway.dataKey;
  if (generateIfMissing && ref.startsWith('file:')) {
    const path = secretPath(ref, config.dir);
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(path, 0o600);   // exact, whatever the umask
      log.warn({ path }, 'generated a development data key; back it up, and use a managed key in production');
    }
  }
  return decodeKey(readSecret(ref, config.dir), 'dataKey');
}
