import t, { type Test } from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { createClient } from 'redis';
import { fromBase64Url, toBase64Url } from '../../protocol/crypto/base64url.js';
import { decryptAttachment, encryptAttachment } from '../../protocol/crypto/attachments.js';
import { fromWire } from '../../protocol/crypto/envelope-codec.js';
import { openEnvelope } from '../../protocol/crypto/envelope-open.js';
import { SUITES } from '../../protocol/crypto/envelope-types.js';
import { MemoryReplayCache } from '../../protocol/crypto/envelope-verify.js';
import type { AcceptedReceipt } from '../../protocol/receipts.js';
import { REDIS_URL } from '../helpers/redis.js';
import { mustConnect, postEnvelope, registerDevice, seal, startMessagingGateway, type MessagingGateway, type TestDevice } from './relay-fixture.js';

// Plaintext markers and patient identifiers that must never reach disk, Redis or a log line.
const MARKERS = ['PLAINTEXT-MARKER-93f1c2', 'DUPONTEL^JEANNE', '2840575123456', 'IRM du genou gauche', 'cr_irm_dupontel.pdf', 'ATTACH-SECRET-5d1e'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

function found(haystack: Buffer): string[] {
  return MARKERS.filter((m) => haystack.includes(Buffer.from(m, 'utf8')) || haystack.includes(Buffer.from(m, 'utf16le')));
}

/**
 * Routing metadata the gateway needs but must keep sealed in its relay store: participant and
 * device ids, envelope ids, the outer header's suite, and the field names of plain receipt JSON.
 */
const RELAY_METADATA = ['kine-martin', 'mutuelle-x', 'pro-1', 'ingest-a', SUITES.classic, '"receivedAt"', '"deliveredAt"', '"expires"'];

function inClear(haystack: Buffer, extra: readonly string[]): string[] {
  return [...RELAY_METADATA, ...extra].filter((m) => haystack.includes(Buffer.from(m, 'utf8')));
}

/** @returns the base64url ids of the two envelopes sent */
async function roundTrip(t: Test, gw: MessagingGateway): Promise<string[]> {
  const pro: TestDevice = await registerDevice(gw, 'kine-martin', 'pro-1');
  const ins: TestDevice = await registerDevice(gw, 'mutuelle-x', 'ingest-a');
  const plain = Buffer.from(`${'ATTACH-SECRET-5d1e '.repeat(5000)}${MARKERS[2]!}`);
  const enc = await encryptAttachment('att_cr1', [plain.subarray(0, 40_000), plain.subarray(40_000)]);
  const parts: Buffer[] = [];
  for await (const c of enc.ciphertext) parts.push(Buffer.from(c));
  const blob = Buffer.concat(parts);
  const secret = enc.finish();
  const upload = (hash: string, body: Buffer): Promise<Response> => gw.as('kine-martin', '/v1/blobs', {
    method: 'POST', body, headers: { 'x-blob-ref': 'att_cr1', 'x-blob-size': String(body.length), 'x-blob-hash': hash, 'content-type': 'application/octet-stream' },
  });
  const wrong = await upload(toBase64Url(new Uint8Array(32).fill(9)), blob);
  t.equal(wrong.status, 422, 'hash mismatch refused');
  t.match(await wrong.json(), { error: { code: 'PSL_ATTACHMENT_INVALID', reason: 'hash' } });
  const short = await gw.as('kine-martin', '/v1/blobs', { method: 'POST', body: blob, headers: { 'x-blob-ref': 'att_cr1', 'x-blob-size': String(blob.length - 1), 'x-blob-hash': toBase64Url(secret.hash) } });
  t.match(await short.json(), { error: { reason: 'size' } }, 'more bytes than declared refused');
  t.equal((await upload(toBase64Url(secret.hash), blob)).status, 201);
  t.equal((await gw.as('mutuelle-x', '/v1/blobs/att_cr1')).status, 404, 'not readable before an envelope grants it');

  const env = await seal(pro, [ins], {
    type: 'pa.request', subject: MARKERS[3]!,
    body: { resourceType: 'Claim', patient: { name: MARKERS[1], nir: MARKERS[2] }, note: MARKERS[0] },
  }, { attachments: [{ ...secret, name: MARKERS[4]!, mime: 'application/pdf' }] });
  const res = await postEnvelope(gw, 'kine-martin', env);
  t.equal(res.status, 201);
  const ws = await mustConnect(gw, 'mutuelle-x', 'ingest-a');
  const frame = await ws.next('envelope');
  const sender = (await (await gw.as('mutuelle-x', '/v1/directory/kine-martin')).json() as { devices: Array<{ entry: { cert: { sigKey: string; notBefore: number; notAfter: number } } }> }).devices[0]!.entry.cert;
  const opened = await openEnvelope(fromWire(frame.envelope), {
    suites: [SUITES.classic], receivedAt: (frame.accepted as AcceptedReceipt).receivedAt, replay: new MemoryReplayCache(),
    senderLookup: (f) => ({ participant: f.participant, device: f.device, sigKey: fromBase64Url(sender.sigKey)!, notBefore: sender.notBefore, notAfter: sender.notAfter }),
    recipient: { participant: 'mutuelle-x', device: 'ingest-a', keys: [{ kind: 'x25519', ...ins.keys.x25519 }] },
  });
  t.ok(opened.ok, 'recipient opens it');
  if (!opened.ok) return [];
  t.match(opened.inner.body, { patient: { name: MARKERS[1] } });
  const got = await gw.as('mutuelle-x', '/v1/blobs/att_cr1');
  t.equal(got.status, 200);
  const out: Buffer[] = [];
  for await (const p of decryptAttachment(opened.attachments[0]!, [new Uint8Array(await got.arrayBuffer())])) out.push(Buffer.from(p));
  t.ok(Buffer.concat(out).equals(plain), 'attachment decrypts to the original');
  ws.send({ type: 'ack', id: frame.id });
  await new Promise((r) => setTimeout(r, 100));
  await ws.close();
  // A second envelope stays queued, so the scans also cover a stored, undelivered envelope.
  const pending = await seal(pro, [ins], { type: 'text', subject: MARKERS[3]!, body: { note: MARKERS[0], patient: MARKERS[1] } });
  t.equal((await postEnvelope(gw, 'kine-martin', pending)).status, 201);
  // Once more for the delivered receipt of the first (written after the ack, read here).
  t.match(await (await gw.as('kine-martin', `/v1/messages/${toBase64Url(env.id)}/receipts`)).json(), { delivered: [{ device: 'ingest-a' }] });
  return [toBase64Url(env.id), toBase64Url(pending.id)];
}

/** Positive control: the scan does see what the gateway is meant to see (routing metadata). */
const CONTROL = Buffer.from('kine-martin');

t.test('LMDB: after a round trip no marker is in the LMDB files, blob files or logs', async (t) => {
  const gw = await startMessagingGateway({ store: 'lmdb' });
  t.teardown(() => gw.cleanup());
  const ids = await roundTrip(t, gw);
  await gw.stop();
  const all = files(join(gw.dir, 'data'));
  t.ok(all.some((f) => f.endsWith('data.mdb')), 'LMDB scanned');
  t.ok(all.some((f) => f.includes('blobs')), 'blob files scanned');
  let control = 0;
  for (const f of all) {
    const bytes = readFileSync(f);
    if (bytes.includes(CONTROL)) control++;
    t.same(found(bytes), [], f.slice(gw.dir.length));
  }
  t.ok(control > 0, 'the scan reads real data: sender ids (routing metadata) are visible');
  // The relay's tables share the Store's file, whose queue names and audit entries carry ids by
  // contract: the relay's own keys and values are read raw and must hold none of them.
  const env = openLmdb({ path: join(gw.dir, 'data', 'lmdb'), readOnly: true, maxDbs: 12 });
  const relayBytes: Buffer[] = [];
  for (const name of ['relay-kv', 'relay-log', 'relay-meta']) {
    for (const { key, value } of env.openDB<Buffer, Buffer>(name, { keyEncoding: 'binary', encoding: 'binary' }).getRange({})) relayBytes.push(key, value);
  }
  await env.close();
  t.ok(relayBytes.length > 6, `${relayBytes.length / 2} relay entries read`);
  t.same(inClear(Buffer.concat(relayBytes), ids), [], 'relay tables: no participant, device or envelope id, no metadata in clear');
  t.ok(gw.logs.lines.length > 10, 'logs captured');
  t.same(found(Buffer.from(gw.logs.lines.join('\n'))), [], 'log lines');
  await gw.restart();
});

t.test('Redis: after a round trip no marker is in any key under the prefix (DUMP and typed reads) or the logs', async (t) => {
  const gw = await startMessagingGateway({ store: 'redis' });
  t.teardown(() => gw.cleanup());
  const ids = await roundTrip(t, gw);
  const client = createClient({ url: REDIS_URL, RESP: 3 });
  await client.connect();
  t.teardown(() => client.quit());
  let keys = 0;
  let control = 0;
  let relayKeys = 0;
  const dumpBuf = (args: string[]): Promise<unknown> => client.sendCommand(args, { typeMapping: { 36: Buffer } as never });
  for await (const batch of client.scanIterator({ MATCH: `${gw.redisPrefix}*`, COUNT: 500 })) {
    for (const key of batch) {
      keys++;
      const type = await client.type(key);
      const dump = await dumpBuf(['DUMP', key]);
      const typed = type === 'string' ? await dumpBuf(['GET', key])
        : type === 'list' ? await dumpBuf(['LRANGE', key, '0', '-1'])
          : type === 'hash' ? await dumpBuf(['HGETALL', key])
            : type === 'stream' ? await dumpBuf(['XRANGE', key, '-', '+'])
              : type === 'zset' ? await dumpBuf(['ZRANGE', key, '0', '-1', 'WITHSCORES'])
                : type === 'set' ? await dumpBuf(['SMEMBERS', key]) : null;
      const text = Buffer.from(JSON.stringify(typed, (_k, v: unknown) => (v as { type?: string; data?: number[] })?.type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('latin1') : v));
      const all = Buffer.concat([dump as Buffer, text]);
      if (all.includes(CONTROL)) control++;
      t.same(found(all), [], `${type} ${key.slice(gw.redisPrefix!.length)}`);
      if (key.startsWith(`${gw.redisPrefix}relay:`)) {
        relayKeys++;
        t.same(inClear(Buffer.concat([Buffer.from(key), all]), ids), [], `relay ${type} ${key.slice(gw.redisPrefix!.length, gw.redisPrefix!.length + 16)}…: no id or metadata in clear`);
      }
    }
  }
  t.ok(keys > 5, `scanned ${keys} keys`);
  t.ok(control > 0, 'the scan reads real data: sender ids (routing metadata) are visible');
  t.ok(relayKeys > 3, `relay keys live under the prefix (${relayKeys} scanned)`);
  t.same(found(Buffer.from(gw.logs.lines.join('\n'))), [], 'log lines');
});
