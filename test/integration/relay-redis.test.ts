import t from 'tap';
import WebSocket from 'ws';
import { toBase64Url } from '../../protocol/crypto/base64url.js';
import { deviceQueue } from '../../gateway/relay/relay.js';
import type { AcceptedReceipt } from '../../protocol/receipts.js';
import { mustConnect, postEnvelope, registerDevice, seal, startMessagingGateway, type MessagingGateway, type TestDevice } from './relay-fixture.js';

// The store-dependent parts of the relay on Redis (queues, receipts, directory log, idempotency).
let gw: MessagingGateway;
let pro: TestDevice;
let ins: TestDevice;
let his: TestDevice;

t.before(async () => {
  gw = await startMessagingGateway({ store: 'redis', messaging: `  limits: { heartbeatMs: 1000, messagesPerMinute: 6 }\n  policy:\n    - { from: [professional], to: [insurer], both: true }\n` });
  pro = await registerDevice(gw, 'kine-martin', 'pro-1');
  ins = await registerDevice(gw, 'mutuelle-x', 'ingest-a');
  his = await registerDevice(gw, 'chu-lyon', 'his-01');
});
t.teardown(() => gw.cleanup());

t.test('redis: offline queueing, ws delivery on connect, ack, delivered receipt', async (t) => {
  const env = await seal(pro, [ins], { type: 'text', subject: 'redis path' });
  const res = await postEnvelope(gw, 'kine-martin', env);
  t.equal(res.status, 201);
  t.equal((await gw.gateway.store.queueStats(deviceQueue('mutuelle-x', 'ingest-a'))).depth, 1, 'queued while offline');
  const ws = await mustConnect(gw, 'mutuelle-x', 'ingest-a');
  const frame = await ws.next('envelope');
  t.equal((frame.accepted as AcceptedReceipt).id, toBase64Url(env.id));
  ws.send({ type: 'ack', id: frame.id });
  await new Promise((r) => setTimeout(r, 150));
  const receipts = await (await gw.as('kine-martin', `/v1/messages/${toBase64Url(env.id)}/receipts`)).json() as { delivered: unknown[] };
  t.equal(receipts.delivered.length, 1);
  await ws.close();
});

t.test('redis: replay idempotent, HTTP inbox', async (t) => {
  const env = await seal(pro, [ins], { type: 'text' });
  const a = await (await postEnvelope(gw, 'kine-martin', env)).json() as { receipt: unknown };
  const b = await postEnvelope(gw, 'kine-martin', env);
  t.equal(b.status, 200);
  t.same((await b.json() as { receipt: unknown }).receipt, a.receipt);
  const inbox = await (await gw.as('mutuelle-x', '/v1/inbox?device=ingest-a&max=5')).json() as { messages: Array<{ id: string }> };
  t.equal(inbox.messages.length, 1);
  t.equal((await gw.as('mutuelle-x', `/v1/inbox/${encodeURIComponent(inbox.messages[0]!.id)}/ack?device=ingest-a`, { method: 'POST' })).status, 200);
});

t.test('redis: unauthorised sender refused, nothing stored', async (t) => {
  const env = await seal(his, [ins], { type: 'text' });
  const res = await postEnvelope(gw, 'chu-lyon', env);
  t.equal(res.status, 403);
  t.match(await res.json(), { error: { reason: 'policy' } });
  t.equal(await gw.gateway.messaging!.relayStore.get(`env:chu-lyon:${toBase64Url(env.id)}`), undefined);
  t.equal(await gw.gateway.messaging!.relayStore.get(`rcpt:chu-lyon:${toBase64Url(env.id)}`), undefined);
  t.equal((await gw.gateway.store.queueStats(deviceQueue('mutuelle-x', 'ingest-a'))).depth, 0);
});

t.test('per-sender quota: 429 with Retry-After and reason, nothing stored for the refused', async (t) => {
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) {
    const env = await seal(pro, [ins], { type: 'text' });
    const res = await postEnvelope(gw, 'kine-martin', env);
    statuses.push(res.status);
    if (res.status === 429) {
      t.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After');
      t.match(await res.json(), { error: { code: 'PSL_QUOTA_EXCEEDED', reason: 'quota' } });
      t.equal(await gw.gateway.messaging!.relayStore.get(`rcpt:kine-martin:${toBase64Url(env.id)}`), undefined);
    }
  }
  t.ok(statuses.includes(429), `quota reached (${statuses.join(',')})`);
  t.ok(statuses.every((s) => s === 201 || s === 429));
  const inbox = await (await gw.as('mutuelle-x', '/v1/inbox?device=ingest-a&max=20')).json() as { messages: Array<{ id: string }> };
  t.equal(inbox.messages.length, statuses.filter((s) => s === 201).length, 'only accepted ones are queued');
  for (const m of inbox.messages) await gw.as('mutuelle-x', `/v1/inbox/${encodeURIComponent(m.id)}/ack?device=ingest-a`, { method: 'POST' });
});

t.test('heartbeat: a peer that stops answering pings is terminated', async (t) => {
  const url = `${gw.gateway.url.replace(/^http/, 'ws')}/v1/ws?device=ingest-a`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${gw.tokens['mutuelle-x']}` }, autoPong: false });
  await new Promise((r) => ws.once('open', r));
  const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
  t.equal(code, 1006, 'terminated without a close frame');
  const live = await mustConnect(gw, 'mutuelle-x', 'ingest-a');
  await new Promise((r) => setTimeout(r, 2500));
  t.equal(live.closeCode, undefined, 'a peer answering pings stays connected');
  await live.close();
});
