import t from 'tap';
import { checkHead, entryIncluded, MAX_HEAD_AGE_MS, type CheckedHead } from '../../../client/directory-proof.js';
import { signRegistration } from '../../../client/device-cert.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyFile } from '../../../client/keyfile.js';
import { fromBase64Url, toBase64Url } from '../../../protocol/crypto/base64url.js';
import { cryptoReady } from '../../../protocol/crypto/primitives.js';
import { ed25519Sign } from '../../../protocol/crypto/signature.js';
import {
  addParticipantSignedBytes, chainEntry, contentHash, GENESIS, signHead, type LogEntry, type EntryBody,
} from '../../../protocol/directory-log.js';

t.test('the client proves each kind of entry the directory publishes, and refuses altered ones', async (t) => {
  const s = await cryptoReady();
  const dir = mkdtempSync(join(tmpdir(), 'psl-proof-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kf = await KeyFile.create({ path: join(dir, 'k.json'), participant: 'kine-martin', device: 'pc', passphrase: 'a passphrase', kdf: 'scrypt', xwing: false });
  const dirKey = s.crypto_sign_keypair();
  const pinned = toBase64Url(dirKey.publicKey);
  const reg = await signRegistration(kf.secrets, { participant: 'kine-martin', device: 'pc' });
  const idKey = kf.secrets.identity.publicKey;
  const bodies: Array<EntryBody & { participant: string; at: number }> = [
    { type: 'add-participant', participant: 'kine-martin', identityKey: toBase64Url(idKey), sig: toBase64Url(ed25519Sign(s, addParticipantSignedBytes('kine-martin', idKey), dirKey.privateKey)), at: 1 },
    { type: 'add-device', participant: 'kine-martin', cert: reg.body.cert, sig: reg.body.sig, at: 2 },
    { type: 'revoke', participant: 'kine-martin', deviceId: 'old', time: 3, sig: toBase64Url(new Uint8Array(64)), at: 3 },
    { type: 'rotate-identity', participant: 'kine-martin', oldKey: toBase64Url(idKey), newKey: toBase64Url(idKey), time: 4, sigOld: toBase64Url(new Uint8Array(64)), sigNew: toBase64Url(new Uint8Array(64)), at: 4 },
  ];
  const log: LogEntry[] = [];
  for (const [seq, b] of bodies.entries()) log.push(chainEntry(s, b, seq, seq === 0 ? GENESIS : fromBase64Url(log[seq - 1]!.hash)!));
  const now = Date.now();
  const signed = signHead(s, { size: log.length, headHash: fromBase64Url(log.at(-1)!.hash)!, time: now }, dirKey.privateKey);
  const proof = (seq: number) => ({ seq, entryHash: log[seq]!.hash, path: log.slice(seq + 1).map((e) => toBase64Url(contentHash(s, e))) });

  const head = await checkHead(signed, pinned, { now });
  t.type(head, 'object', 'head verifies');
  for (const e of log) {
    t.equal(await entryIncluded(e, proof(e.seq), head as CheckedHead), true, `client proves ${e.type}`);
  }
  const forgedCert = { ...log[1]!, cert: { ...reg.body.cert, encKeyX25519: toBase64Url(s.crypto_box_keypair().publicKey) } };
  t.equal(await entryIncluded(forgedCert, proof(1), head as CheckedHead), false, 'a swapped encryption key is not in the log');
  t.equal(await entryIncluded({ ...log[0]!, at: -5 }, proof(0), head as CheckedHead), false, 'hostile numbers: false, no throw');
  t.equal(await entryIncluded(log[1], { ...proof(1), path: proof(1).path.slice(1) }, head as CheckedHead), false, 'short path');

  t.equal(await checkHead({ ...signed, size: signed.size + 1 }, pinned, { now }), 'head signature');
  t.equal(await checkHead(signed, toBase64Url(s.crypto_sign_keypair().publicKey), { now }), 'head signature', 'another directory key');
  t.equal(await checkHead(signed, pinned, { now: now + MAX_HEAD_AGE_MS + 1 }), 'head stale');
  t.equal(await checkHead(signed, pinned, { now, lastSize: log.length + 1 }), 'head rolled back');
});
