import t from 'tap';
import WebSocket from 'ws';
import { fromBase64Url, toBase64Url } from '../../protocol/crypto/base64url.js';
import { encodeEnvelope, fromWire } from '../../protocol/crypto/envelope-codec.js';
import { openEnvelope } from '../../protocol/crypto/envelope-open.js';
import { SUITES, type WireEnvelope } from '../../protocol/crypto/envelope-types.js';
import { MemoryReplayCache } from '../../protocol/crypto/envelope-verify.js';
import { cryptoReady } from '../../protocol/crypto/primitives.js';
import { ed25519Sign } from '../../protocol/crypto/signature.js';
import { revokeSignedBytes } from '../../protocol/device-cert.js';
import { deviceQueue } from '../../gateway/relay/relay.js';
import { verifyReceipt, type AcceptedReceipt, type DeliveredReceipt } from '../../protocol/receipts.js';
import {
  connect, mustConnect, postEnvelope, registerDevice, seal, startMessagingGateway, TestSocket, type MessagingGateway, type TestDevice,
} from './relay-fixture.js';

let gw: MessagingGateway;
let pro: TestDevice;
let pro2: TestDevice;
let insA: TestDevice;
let insB: TestDevice;
let his: TestDevice;
let serviceKey: Uint8Array;

t.before(async () => {
  gw = await startMessagingGateway({ store: 'lmdb', messaging: `  limits: { maxEnvelopeBytes: 65536 }\n  policy:\n    - { from: [professional], to: [insurer], both: true }\n` });
  pro = await registerDevice(gw, 'kine-martin', 'pro-1');
  pro2 = await registerDevice(gw, 'kine-martin', 'pro-2');
  insA = await registerDevice(gw, 'mutuelle-x', 'ingest-a');
  insB = await registerDevice(gw, 'mutuelle-x', 'ingest-b');
  his = await registerDevice(gw, 'chu-lyon', 'his-01');
  serviceKey = fromBase64Url(((await (await gw.as('ops', '/v1/messaging')).json()) as { serviceKey: string }).serviceKey)!;
});
t.teardown(() => gw.cleanup());

async function open(device: TestDevice, frame: Record<string, unknown>) {
  const env = fromWire(frame.envelope);
  const accepted = frame.accepted as AcceptedReceipt;
  const sender = await gw.as(device.participant, `/v1/directory/${env.from.participant}`);
  const view = await sender.json() as { devices: Array<{ entry: { cert: { deviceId: string; sigKey: string; notBefore: number; notAfter: number } } }> };
  return openEnvelope(env, {
    suites: [SUITES.classic, SUITES.hybrid], receivedAt: accepted.receivedAt, replay: new MemoryReplayCache(),
    senderLookup: (from) => {
      const c = view.devices.find((d) => d.entry.cert.deviceId === from.device)?.entry.cert;
      return c && { participant: from.participant, device: from.device, sigKey: fromBase64Url(c.sigKey)!, notBefore: c.notBefore, notAfter: c.notAfter };
    },
    recipient: {
      participant: device.participant, device: device.deviceId,
      keys: [{ kind: 'x25519', ...device.keys.x25519 }, { kind: 'xwing', ...device.keys.xwing! }],
    },
  });
}

t.test('ws: upgrade needs a valid bearer token and a registered device of the caller', async (t) => {
  const none = await connect(gw, undefined, 'ingest-a');
  t.match(none, { status: 401 });
  t.match(JSON.parse((none as { body: string }).body), { error: { code: 'PSL_AUTH_REQUIRED' } });
  const url = `${gw.gateway.url.replace(/^http/, 'ws')}/v1/ws?device=ingest-a`;
  const bad = await new Promise<number>((resolve) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${'x'.repeat(43)}` } });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => resolve(101));
    ws.once('error', () => resolve(-1));
  });
  t.equal(bad, 401, 'unknown token refused on the upgrade');
  const foreign = await connect(gw, 'kine-martin', 'ingest-a');
  t.match(foreign, { status: 404 }, 'another participant\'s device is not the caller\'s');
});

t.test('send over HTTP, receive over ws, ack, delivered receipt to the sender', async (t) => {
  const a = await mustConnect(gw, 'mutuelle-x', 'ingest-a');
  const sender = await mustConnect(gw, 'kine-martin', 'pro-1');
  const env = await seal(pro, [insA, pro], { type: 'pa.request', subject: 'IRM genou', body: { note: 'hello' } });
  const res = await postEnvelope(gw, 'kine-martin', env);
  t.equal(res.status, 201);
  const { receipt } = await res.json() as { receipt: AcceptedReceipt };
  t.ok(verifyReceipt(await cryptoReady(), receipt, serviceKey), 'accepted receipt signed by the service key');
  t.equal(receipt.id, toBase64Url(env.id));

  const frame = await a.next('envelope');
  t.same(frame.accepted, receipt, 'the recipient gets the gateway receive time with the envelope');
  const opened = await open(insA, frame);
  t.ok(opened.ok, 'opens with real crypto');
  if (opened.ok) t.equal(opened.inner.subject, 'IRM genou');
  a.send({ type: 'ack', id: frame.id });
  const dlv = (await sender.next('receipt')).receipt as DeliveredReceipt;
  t.match(dlv, { type: 'delivered', id: receipt.id, participant: 'mutuelle-x', device: 'ingest-a' });
  t.ok(verifyReceipt(await cryptoReady(), dlv, serviceKey));
  const own = await sender.next('envelope');
  t.equal((own.accepted as AcceptedReceipt).id, receipt.id, 'the sender\'s archive copy reaches its own device');
  sender.send({ type: 'ack', id: own.id });
  await sender.next('receipt');
  const r = await (await gw.as('kine-martin', `/v1/messages/${receipt.id}/receipts`)).json() as { delivered: DeliveredReceipt[] };
  t.same(r.delivered.map((d) => d.device).sort(), ['ingest-a', 'pro-1']);
  t.equal((await gw.as('mutuelle-x', `/v1/messages/${receipt.id}/receipts`)).status, 404, 'receipts are the sender\'s');
  t.equal((await gw.gateway.store.queueStats(deviceQueue('mutuelle-x', 'ingest-a'))).depth, 0);
  await a.close();
  await sender.close();
});

t.test('HTTP inbox: fetch, ack, and a second fetch is empty', async (t) => {
  const env = await seal(pro, [insB], { type: 'text', subject: 'inbox path' });
  t.equal((await postEnvelope(gw, 'kine-martin', env)).status, 201);
  const inbox = await (await gw.as('mutuelle-x', '/v1/inbox?device=ingest-b')).json() as { messages: Array<Record<string, unknown>> };
  t.equal(inbox.messages.length, 1);
  const opened = await open(insB, inbox.messages[0]!);
  t.ok(opened.ok && opened.inner.subject === 'inbox path');
  const ack = await gw.as('mutuelle-x', `/v1/inbox/${encodeURIComponent(String(inbox.messages[0]!.id))}/ack?device=ingest-b`, { method: 'POST' });
  t.equal(ack.status, 200);
  t.match(await ack.json(), { status: 'delivered', receipt: { device: 'ingest-b' } });
  const again = await (await gw.as('mutuelle-x', '/v1/inbox?device=ingest-b')).json() as { messages: unknown[] };
  t.equal(again.messages.length, 0);
  const twice = await gw.as('mutuelle-x', `/v1/inbox/${encodeURIComponent(String(inbox.messages[0]!.id))}/ack?device=ingest-b`, { method: 'POST' });
  t.equal(twice.status, 404);
  t.equal((await gw.as('kine-martin', '/v1/inbox?device=ingest-b')).status, 404, 'only the device owner reads its inbox');
});

t.test('offline device: envelopes wait, then arrive on reconnect; an unacked one comes back', async (t) => {
  const envs = [await seal(pro, [insA], { type: 'text', subject: 'one' }), await seal(pro, [insA], { type: 'text', subject: 'two' })];
  for (const e of envs) t.equal((await postEnvelope(gw, 'kine-martin', e)).status, 201);
  t.equal((await gw.gateway.store.queueStats(deviceQueue('mutuelle-x', 'ingest-a'))).depth, 2);
  const first = await mustConnect(gw, 'mutuelle-x', 'ingest-a');
  const f1 = await first.next('envelope');
  const f2 = await first.next('envelope');
  first.send({ type: 'ack', id: f1.id });
  await new Promise((r) => setTimeout(r, 100));
  await first.close();
  const second = await mustConnect(gw, 'mutuelle-x', 'ingest-a');
  const again = await second.next('envelope');
  t.equal(again.id, f2.id, 'the unacked envelope is delivered again after reconnecting');
  second.send({ type: 'ack', id: again.id });
  await new Promise((r) => setTimeout(r, 100));
  await second.close();
  t.equal((await gw.gateway.store.queueStats(deviceQueue('mutuelle-x', 'ingest-a'))).depth, 0);
});

t.test('a replayed envelope gets the same receipt and is queued once', async (t) => {
  const env = await seal(pro, [insB], { type: 'text', subject: 'replay' });
  const r1 = await postEnvelope(gw, 'kine-martin', env);
  const r2 = await postEnvelope(gw, 'kine-martin', env);
  t.equal(r1.status, 201);
  t.equal(r2.status, 200);
  t.same((await r2.json() as { receipt: unknown }).receipt, (await r1.json() as { receipt: unknown }).receipt);
  t.equal((await gw.gateway.store.queueStats(deviceQueue('mutuelle-x', 'ingest-b'))).depth, 1);
  const other = await seal(pro, [insB], { type: 'text', subject: 'same id, other bytes' });
  const reused = encodeEnvelope({ ...other, id: env.id });
  const r3 = await postEnvelope(gw, 'kine-martin', reused);
  t.equal(r3.status, 409, 'same id with other bytes is not a retry');
  t.match(await r3.json(), { error: { code: 'PSL_ENVELOPE_REPLAY', reason: 'replay' } });
  const inbox = await (await gw.as('mutuelle-x', '/v1/inbox?device=ingest-b&max=10')).json() as { messages: Array<{ id: string }> };
  t.equal(inbox.messages.length, 1);
  for (const m of inbox.messages) await gw.as('mutuelle-x', `/v1/inbox/${encodeURIComponent(m.id)}/ack?device=ingest-b`, { method: 'POST' });
});

t.test('unauthorised sender is refused with a reason and nothing is stored', async (t) => {
  const before = await gw.gateway.store.readAudit();
  const env = await seal(his, [insA], { type: 'claim.submit', subject: 'policy says no' });
  const res = await postEnvelope(gw, 'chu-lyon', env);
  t.equal(res.status, 403);
  t.match(await res.json(), { error: { code: 'PSL_FORBIDDEN', reason: 'policy' } });
  t.equal((await gw.gateway.store.queueStats(deviceQueue('mutuelle-x', 'ingest-a'))).depth, 0, 'nothing queued');
  t.equal((await gw.as('chu-lyon', `/v1/messages/${toBase64Url(env.id)}/receipts`)).status, 404, 'no receipt');
  t.equal(await gw.gateway.messaging!.relayStore.get(`env:chu-lyon:${toBase64Url(env.id)}`), undefined, 'no envelope');
  t.equal((await gw.gateway.store.readAudit()).length, before.length, 'no audit entry');
  const spoof = await postEnvelope(gw, 'mutuelle-x', await seal(pro, [insA], { type: 'text' }));
  t.match(await spoof.json(), { error: { reason: 'sender-mismatch' } }, 'a participant cannot submit as another');
});

t.test('a revoked device can neither send nor connect', async (t) => {
  const s = await cryptoReady();
  const time = Date.now();
  const sig = toBase64Url(ed25519Sign(s, revokeSignedBytes({ participant: 'kine-martin', deviceId: 'pro-2', time }), gw.identities['kine-martin'].privateKey));
  const rev = await gw.as('kine-martin', '/v1/devices/pro-2/revoke', { method: 'POST', body: JSON.stringify({ time, sig }), headers: { 'content-type': 'application/json' } });
  t.equal(rev.status, 201);
  const res = await postEnvelope(gw, 'kine-martin', await seal(pro2, [insA], { type: 'text' }));
  t.equal(res.status, 422);
  t.match(await res.json(), { error: { code: 'PSL_ENVELOPE_REJECTED', reason: 'sender-revoked' } });
  t.match(await connect(gw, 'kine-martin', 'pro-2'), { status: 403 });
  const toRevoked = await postEnvelope(gw, 'mutuelle-x', await seal(insA, [pro2], { type: 'text' }));
  t.match(await toRevoked.json(), { error: { reason: 'recipient-unknown' } }, 'nor receive new envelopes');
});

t.test('an expiry beyond the offline TTL is refused (the gateway would keep it that long)', async (t) => {
  const env = await seal(pro, [insA], { type: 'text' }, { ttlMs: 31 * 24 * 3600 * 1000 });
  const res = await postEnvelope(gw, 'kine-martin', env);
  t.equal(res.status, 422);
  t.match(await res.json(), { error: { code: 'PSL_ENVELOPE_REJECTED', reason: 'ttl' } });
});

t.test('size caps: HTTP 413, ws close 1009', async (t) => {
  const big = new Uint8Array(70_000).fill(0x20);
  const res = await gw.as('kine-martin', '/v1/messages', { method: 'POST', body: big });
  t.equal(res.status, 413);
  const ws = await mustConnect(gw, 'kine-martin', 'pro-1');
  const closed = new Promise<number>((r) => ws.ws.once('close', (code) => r(code)));
  ws.ws.send('x'.repeat(70_000 + 2048));
  t.equal(await closed, 1009);
});

t.test('send over ws: accepted frame, errors as frames with a code', async (t) => {
  const ws = await mustConnect(gw, 'kine-martin', 'pro-1');
  const env = await seal(pro, [insA], { type: 'text', subject: 'via ws' });
  ws.send({ type: 'send', ref: 'r1', envelope: JSON.parse(new TextDecoder().decode(encodeEnvelope(env))) as WireEnvelope });
  const acc = await ws.next('accepted');
  t.match(acc, { ref: 'r1', receipt: { id: toBase64Url(env.id) } });
  ws.send({ type: 'send', ref: 'r2', envelope: { v: 1 } });
  t.match(await ws.next('error'), { ref: 'r2', code: 'PSL_ENVELOPE_MALFORMED', reason: 'malformed' });
  ws.ws.send('not json');
  t.match(await ws.next('error'), { code: 'PSL_BAD_REQUEST', reason: 'malformed' });
  ws.send({ type: 'ack', id: 'nope' });
  t.match(await ws.next('error'), { reason: 'not-in-flight' });
  await ws.close();
  const a = await mustConnect(gw, 'mutuelle-x', 'ingest-a');
  const f = await a.next('envelope');
  a.send({ type: 'ack', id: f.id });
  await new Promise((r) => setTimeout(r, 50));
  await a.close();
  t.ok(a instanceof TestSocket);
});

t.test('a queue entry without its envelope and receipt is dropped: accepts queue only after the relay commit', async (t) => {
  const relay = gw.gateway.messaging!.relay;
  const store = gw.gateway.store;
  const q = deviceQueue('mutuelle-x', 'ingest-b');
  await store.enqueue(q, { id: 'kine-martin:neveraccepted000000000', payload: { s: 'kine-martin', e: 'neveraccepted000000000', x: Date.now() + 60_000, n: 1 } });
  t.equal(await relay.claimNext('mutuelle-x', 'ingest-b'), undefined, 'not handed out without its receipt');
  t.equal((await store.queueStats(q)).depth, 0, 'and not kept: no accept can still be writing it');
  const expired = deviceQueue('mutuelle-x', 'ingest-a');
  await store.enqueue(expired, { id: 'kine-martin:expired000000000000000', payload: { s: 'kine-martin', e: 'expired000000000000000', x: Date.now() - 1, n: 1 } });
  t.equal(await relay.claimNext('mutuelle-x', 'ingest-a'), undefined);
  t.equal((await store.queueStats(expired)).depth, 0, 'an expired entry is removed');
});
