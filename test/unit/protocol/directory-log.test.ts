import t from 'tap';
import { toBase64Url } from '../../../protocol/crypto/base64url.js';
import { cryptoReady } from '../../../protocol/crypto/primitives.js';
import { ed25519Sign } from '../../../protocol/crypto/signature.js';
import { revokeSignedBytes } from '../../../protocol/device-cert.js';
import {
  chainEntry, contentHash, GENESIS, signHead, verifyInclusion, type LogEntry,
} from '../../../protocol/directory-log.js';
import { fromBase64Url } from '../../../protocol/crypto/base64url.js';

t.test('hash chain: every entry proves its position; any change breaks the proof', async (t) => {
  const s = await cryptoReady();
  const dirKey = s.crypto_sign_keypair();
  const id = s.crypto_sign_keypair();
  const entries: LogEntry[] = [];
  for (let i = 0; i < 5; i++) {
    const time = 1000 + i;
    const sig = toBase64Url(ed25519Sign(s, revokeSignedBytes({ participant: 'p', deviceId: `d${i}`, time }), id.privateKey));
    const prev = i === 0 ? GENESIS : fromBase64Url(entries[i - 1]!.hash)!;
    entries.push(chainEntry(s, { type: 'revoke', participant: 'p', deviceId: `d${i}`, time, sig, at: 5000 + i }, i, prev));
  }
  const head = signHead(s, { size: 5, headHash: fromBase64Url(entries[4]!.hash)!, time: 9999 }, dirKey.privateKey);
  const proof = (seq: number) => ({ seq, entryHash: entries[seq]!.hash, path: entries.slice(seq + 1).map((e) => toBase64Url(contentHash(s, e))) });
  for (const e of entries) t.ok(verifyInclusion(s, e, proof(e.seq), head, dirKey.publicKey), `entry ${e.seq}`);
  const e2 = entries[2]!;
  t.notOk(verifyInclusion(s, { ...e2, at: e2.at + 1 } as LogEntry, proof(2), head, dirKey.publicKey), 'logged time changed');
  t.notOk(verifyInclusion(s, { ...e2, deviceId: 'other' } as LogEntry, proof(2), head, dirKey.publicKey), 'device changed');
  t.notOk(verifyInclusion(s, e2, { ...proof(2), seq: 1 }, head, dirKey.publicKey), 'claimed position');
  t.notOk(verifyInclusion(s, e2, { ...proof(2), path: [...proof(2).path].reverse() }, head, dirKey.publicKey), 'path reordered');
  t.notOk(verifyInclusion(s, e2, proof(2), { ...head, size: 6 }, dirKey.publicKey), 'head size changed');
  t.notOk(verifyInclusion(s, e2, proof(2), head, id.publicKey), 'head signed by another key');
});
