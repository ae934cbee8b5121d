import t, { type Test } from 'tap';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { KeyFile, KEYFILE_FORMAT } from '../../../client/keyfile.js';
import { kdfProblem, SCRYPT_DEFAULTS } from '../../../client/kdf.js';
import { readPassphrase } from '../../../client/passphrase.js';
import { signRegistration } from '../../../client/device-cert.js';
import { certFromWire, checkDeviceCert } from '../../../protocol/device-cert.js';
import { fromBase64Url, toBase64Url } from '../../../protocol/crypto/base64url.js';
import { cryptoReady } from '../../../protocol/crypto/primitives.js';

const PASS = 'correct horse battery staple';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'psl-client-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function fresh(t: Test): Promise<{ path: string; file: KeyFile }> {
  const path = join(tempDir(t), 'keys.json');
  const file = await KeyFile.create({ path, participant: 'kine-martin', device: 'laptop', passphrase: PASS, kdf: 'scrypt' });
  return { path, file };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'opened';
  } catch (err) {
    return (err as { code?: string }).code ?? 'no code';
  }
}

t.test('a new key file is mode 0600, scrypt at the stated cost, and opens with its passphrase', async (t) => {
  const { path, file } = await fresh(t);
  t.equal(statSync(path).mode & 0o777, 0o600);
  const doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  t.equal(doc.format, KEYFILE_FORMAT);
  t.same(doc.kdf, { alg: 'scrypt', ...SCRYPT_DEFAULTS, salt: (doc.kdf as { salt: string }).salt });
  t.notOk(readFileSync(path, 'utf8').includes(toBase64Url(file.secrets.identity.privateKey)), 'no private key in clear');
  const again = await KeyFile.open(path, PASS);
  t.same(again.secrets.identity.privateKey, file.secrets.identity.privateKey);
  t.same(again.secrets.device.x25519.privateKey, file.secrets.device.x25519.privateKey);
  t.equal(again.secrets.device.xwing?.publicKey.length, 1216, 'X-Wing key kept');
  t.equal(again.header.identityKey, toBase64Url(file.secrets.identity.publicKey));
});

t.test('a wrong passphrase is refused', async (t) => {
  const { path } = await fresh(t);
  t.equal(await refusal(KeyFile.open(path, `${PASS}!`)), 'PSL_AUTH_INVALID');
});

t.test('a tampered file is refused: sealed bytes, header fields, KDF cost', async (t) => {
  const { path } = await fresh(t);
  const original = readFileSync(path, 'utf8');
  const edit = (fn: (d: Record<string, unknown>) => void): void => {
    const d = JSON.parse(original) as Record<string, unknown>;
    fn(d);
    writeFileSync(path, JSON.stringify(d), { mode: 0o600 });
  };
  edit((d) => {
    const b = fromBase64Url(d.sealed as string)!;
    b[10]! ^= 1;
    d.sealed = toBase64Url(b);
  });
  t.equal(await refusal(KeyFile.open(path, PASS)), 'PSL_AUTH_INVALID', 'flipped ciphertext bit');
  edit((d) => { d.participant = 'mutuelle-x'; });
  t.equal(await refusal(KeyFile.open(path, PASS)), 'PSL_AUTH_INVALID', 'participant renamed (header is AAD)');
  edit((d) => { d.identityKey = toBase64Url(new Uint8Array(32).fill(7)); });
  t.equal(await refusal(KeyFile.open(path, PASS)), 'PSL_AUTH_INVALID', 'identity key swapped');
  edit((d) => { (d.kdf as { N: number }).N = 2 ** 16; });
  t.equal(await refusal(KeyFile.open(path, PASS)), 'PSL_AUTH_INVALID', 'KDF cost lowered: the AEAD notices');
  edit((d) => { (d.kdf as { N: number }).N = 2 ** 10; });
  t.equal(await refusal(KeyFile.open(path, PASS)), 'PSL_AUTH_INVALID', 'KDF cost below the floor: refused before deriving');
  edit((d) => { d.extra = 1; });
  t.equal(await refusal(KeyFile.open(path, PASS)), 'PSL_AUTH_INVALID', 'unknown field');
  writeFileSync(path, original, { mode: 0o600 });
  t.equal(await refusal(KeyFile.open(path, PASS)), 'opened', 'the original still opens');
});

t.test('a key file readable by group or others is refused (ssh rule)', async (t) => {
  const { path } = await fresh(t);
  chmodSync(path, 0o644);
  t.equal(await refusal(KeyFile.open(path, PASS)), 'PSL_AUTH_INVALID');
  chmodSync(path, 0o600);
  t.equal(await refusal(KeyFile.open(path, PASS)), 'opened');
});

t.test('save rewrites atomically with a new nonce, keeps 0600, and never overwrites on create', async (t) => {
  const { path, file } = await fresh(t);
  const before = JSON.parse(readFileSync(path, 'utf8')) as { nonce: string };
  file.secrets.pins['mutuelle-x'] = { identityKey: toBase64Url(new Uint8Array(32).fill(1)), firstSeen: 1 };
  await file.save();
  const after = JSON.parse(readFileSync(path, 'utf8')) as { nonce: string };
  t.not(after.nonce, before.nonce);
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.equal((await KeyFile.open(path, PASS)).secrets.pins['mutuelle-x']?.firstSeen, 1);
  t.equal(await refusal(KeyFile.create({ path, participant: 'x', device: 'y', passphrase: PASS, kdf: 'scrypt' })), 'PSL_BAD_REQUEST', 'never overwrites');
  t.equal((await KeyFile.open(path, PASS)).header.participant, 'kine-martin', 'the original keys are intact');
});

t.test('KDF parameter checks', async (t) => {
  const salt = toBase64Url(new Uint8Array(16));
  t.equal(kdfProblem({ alg: 'scrypt', ...SCRYPT_DEFAULTS, salt }), undefined);
  t.equal(kdfProblem({ alg: 'argon2id13', opslimit: 3, memlimit: 256 * 1024 * 1024, salt }), undefined);
  t.match(kdfProblem({ alg: 'argon2id13', opslimit: 1, memlimit: 256 * 1024 * 1024, salt }), /opslimit/);
  t.match(kdfProblem({ alg: 'scrypt', N: 3 * 2 ** 15, r: 8, p: 1, salt }), /N/);
  t.match(kdfProblem({ alg: 'pbkdf2', salt }), /unknown algorithm/);
});

t.test('passphrase sources: file, environment, and no TTY', async (t) => {
  const dir = tempDir(t);
  const pf = join(dir, 'pass');
  writeFileSync(pf, `${PASS}\n`);
  t.equal(await readPassphrase({ file: pf, env: {} }), PASS, 'one trailing newline dropped');
  t.equal(await readPassphrase({ env: { PASSERELLE_PASSPHRASE: 'from env' } }), 'from env');
  const notTty = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.ReadStream;
  t.equal(await refusal(readPassphrase({ env: {}, stdin: notTty })), 'PSL_AUTH_REQUIRED');
});

t.test('a registration the client signs passes the directory\'s checks', async (t) => {
  const s = await cryptoReady();
  const { file } = await fresh(t);
  const { body, cert } = await signRegistration(file.secrets, { participant: 'kine-martin', device: 'laptop' });
  const decoded = certFromWire(body.cert)!;
  t.same(decoded, cert, 'its wire form decodes to what it signed');
  t.equal(checkDeviceCert(s, decoded, fromBase64Url(body.sig)!, file.secrets.identity.publicKey, Date.now()), undefined);
});

t.test('by default a new key file uses Argon2id (libsodium-wrappers-sumo is a dependency)', async (t) => {
  const path = join(tempDir(t), 'keys.json');
  await KeyFile.create({ path, participant: 'kine-martin', device: 'laptop', passphrase: PASS });
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { kdf: { alg: string } };
  t.equal(doc.kdf.alg, 'argon2id13');
  t.equal(kdfProblem(doc.kdf as Parameters<typeof kdfProblem>[0]), undefined, 'at or above the minimum cost');
  t.equal(await refusal(KeyFile.open(path, `${PASS}!`)), 'PSL_AUTH_INVALID', 'wrong passphrase refused');
  t.ok(await KeyFile.open(path, PASS), 'opens with the passphrase');
});
