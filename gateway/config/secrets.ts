import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { GatewayError } from '../../protocol/errors.js';

/** Where a secret reference points, or why it cannot be read (never the secret itself). */
export function checkSecretRef(ref: string, baseDir: string, env: NodeJS.ProcessEnv): string | undefined {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    return env[name] === undefined || env[name] === '' ? `environment variable ${name} is not set` : undefined;
  }
  const path = secretPath(ref, baseDir);
  return existsSync(path) ? undefined : `file ${path} does not exist`;
}

/** Absolute path of a `file:` reference (relative paths resolve against the config directory). */
export function secretPath(ref: string, baseDir: string): string {
  const raw = ref.slice('file:'.length);
  return isAbsolute(raw) ? raw : join(baseDir, raw);
}

/**
 * The secret's value. Files are read as text and trimmed (PEM and hex keys end with a newline).
 * @param ref - `env:NAME` or `file:path`
 */
export function readSecret(ref: string, baseDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const problem = checkSecretRef(ref, baseDir, env);
  if (problem) throw new GatewayError('PSL_CONFIG_INVALID', `secret reference cannot be read: ${problem}`);
  return ref.startsWith('env:') ? (env[ref.slice(4)] as string) : readFileSync(secretPath(ref, baseDir), 'utf8').trim();
}

/** A 32-byte key written as 64 hex digits or base64. */
export function decodeKey(text: string, what: string): Uint8Array {
  const bytes = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (bytes.length !== 32) throw new GatewayError('PSL_CONFIG_INVALID', `${what} must be 32 bytes as 64 hex digits or base64`);
  return new Uint8Array(bytes);
}
