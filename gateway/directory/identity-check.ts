import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { formatProblem, type ConfigProblem } from '../config/problems.js';
import { locate } from '../config/yaml-position.js';
import { GatewayError } from '../../protocol/errors.js';
import type { IdentityMismatch } from './directory.js';

/**
 * Turn identity-key mismatches into config problems pointing at the exact line of
 * participants.yaml (`config/participants.yaml:12:7 participants[2].identityKey: …`), so the admin
 * sees which key changed without the gateway printing either key.
 * @param dir - config directory
 * @param mismatches - from Directory.open
 */
export function identityProblems(dir: string, mismatches: readonly IdentityMismatch[]): ConfigProblem[] {
  const path = join(dir, 'participants.yaml');
  const rel = relative(process.cwd(), path);
  const shown = rel && !rel.startsWith('..') ? rel : path;
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(path, 'utf8'), { lineCounter: lines });
  return mismatches.map((m) => {
    const at = ['participants', m.index, 'identityKey'];
    return {
      file: shown, ...locate({ shown, doc, lines }, at), path: `participants[${m.index}].identityKey`,
      message: m.loggedAt === 0
        ? `identity key of participant ${m.participant} is not a valid Ed25519 public key`
        : `identity key of participant ${m.participant} differs from the directory log (last set at ${new Date(m.loggedAt).toISOString()}) and no signed rotation entry covers the change`,
      fix: m.loggedAt === 0
        ? 'paste the participant\'s Ed25519 public key (32 bytes, base64url)'
        : 'restore the logged key, or have the participant rotate it (POST /v1/directory/rotate-identity, signed by the old and the new key) and then update this file',
    };
  });
}

/**
 * Refuse to start on any mismatch, listing every one.
 * @throws GatewayError PSL_CONFIG_INVALID whose message is the formatted problems
 */
export function assertIdentities(dir: string, mismatches: readonly IdentityMismatch[]): void {
  if (mismatches.length === 0) return;
  throw new GatewayError('PSL_CONFIG_INVALID', identityProblems(dir, mismatches).map(formatProblem).join('\n'));
}
