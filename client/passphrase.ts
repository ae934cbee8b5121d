/**
 * Where the key-file passphrase comes from, in order: `--passphrase-file`, the environment
 * variable PASSERELLE_PASSPHRASE (both non-interactive, for services and scripts), then a prompt
 * with echo off when stdin is a terminal. Never from a command-line value: argv is visible to
 * every local user through ps.
 */
import { readFileSync } from 'node:fs';
import { GatewayError } from '../protocol/errors.js';

/** Name of the environment variable read for the passphrase. */
export const PASSPHRASE_ENV = 'PASSERELLE_PASSPHRASE';

/** Inputs for resolving the passphrase. */
export interface PassphraseSource {
  /** Path of a file holding the passphrase (one trailing newline is dropped). */
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Ask twice and compare (init). */
  readonly confirm?: boolean;
  readonly stdin?: NodeJS.ReadStream;
  readonly stderr?: NodeJS.WritableStream;
}

/**
 * Resolve the passphrase.
 * @throws GatewayError PSL_AUTH_REQUIRED when there is no source (no file, no env, no TTY)
 */
export async function readPassphrase(src: PassphraseSource): Promise<string> {
  if (src.file !== undefined) return readFileSync(src.file, 'utf8').replace(/\r?\n$/, '');
  const fromEnv = (src.env ?? process.env)[PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const stdin = src.stdin ?? process.stdin;
  const stderr = src.stderr ?? process.stderr;
  if (!stdin.isTTY) {
    throw new GatewayError('PSL_AUTH_REQUIRED', `no passphrase: use --passphrase-file <path> or set ${PASSPHRASE_ENV}`);
  }
  const first = await prompt(stdin, stderr, 'Key file passphrase: ');
  if (src.confirm) {
    const again = await prompt(stdin, stderr, 'Repeat passphrase: ');
    if (again !== first) throw new GatewayError('PSL_BAD_REQUEST', 'passphrases differ');
  }
  return first;
}

/** Read one line from a TTY with echo off (raw mode, so the characters are never printed). */
function prompt(stdin: NodeJS.ReadStream, stderr: NodeJS.WritableStream, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    stderr.write(question);
    let value = '';
    const wasRaw = stdin.isRaw;
    stdin.setRawMode(true);
    stdin.resume();
    const done = (err?: Error): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(wasRaw);
      stdin.pause();
      stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new GatewayError('PSL_AUTH_REQUIRED', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
