import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { toBase64Url } from '../../protocol/crypto/base64url.js';
import type { AcceptedReceipt } from '../../protocol/receipts.js';
import { deviceQueue } from '../../gateway/relay/relay.js';
import { postEnvelope, registerDevice, seal, startMessagingGateway, type MessagingGateway, type TestDevice } from './relay-fixture.js';

/** LMDB's id of the last committed write transaction: one more per commit (and per fsync). */
function lastCommit(path: string): number {
  if (!existsSync(join(path, 'data.mdb'))) throw new Error(`no LMDB environment at ${path}`);
  // Read-only: opening for writes could wait on the writer lock the gateway's own commits hold.
  return (openLmdb({ path, readOnly: true }).getStats() as { lastTxnId: number }).lastTxnId;
}

t.test('LMDB: accepting an envelope for two devices is one commit, and so is each device\'s ack', async (t) => {
  const gw = await startMessagingGateway({ store: 'lmdb' });
  t.teardown(() => gw.cleanup());
  const pro = await registerDevice(gw, 'kine-martin', 'pro-1');
  const insA = await registerDevice(gw, 'mutuelle-x', 'ingest-a');
  const insB = await registerDevice(gw, 'mutuelle-x', 'ingest-b');
  const env = await seal(pro, [insA, insB], { type: 'text', subject: 'one commit' });
  const storePath = join(gw.dir, 'data', 'lmdb');
  t.notOk(existsSync(join(gw.dir, 'data', 'lmdb-relay')), 'no relay environment of its own');
  const before = lastCommit(storePath);
  t.equal((await postEnvelope(gw, 'kine-martin', env)).status, 201);
  t.equal(lastCommit(storePath) - before, 1, 'envelope, receipt, both queue entries and the audit entry: one commit');
  const queued = await Promise.all([deviceQueue('mutuelle-x', 'ingest-a'), deviceQueue('mutuelle-x', 'ingest-b')].map((q) => gw.gateway.store.queueStats(q)));
  t.same(queued.map((q) => q.depth), [1, 1], 'and both devices have their entry');

  const inbox = await (await gw.as('mutuelle-x', '/v1/inbox?device=ingest-a&max=10')).json() as { messages: Array<{ id: string }> };
  const claimed = lastCommit(storePath);
  t.equal((await gw.as('mutuelle-x', `/v1/inbox/${encodeURIComponent(inbox.messages[0]!.id)}/ack?device=ingest-a`, { method: 'POST' })).status, 200);
  t.equal(lastCommit(storePath) - claimed, 1, 'lease completed, delivered receipt kept, audit entry: one commit');
});

/** A sender whose `accepted` answer was lost retries: the stored receipt, nothing queued twice, before and after the ack. */
async function retryAfterLostAnswer(t: Test, gw: MessagingGateway): Promise<void> {
  const pro: TestDevice = await registerDevice(gw, 'kine-martin', 'pro-1');
  const ins: TestDevice = await registerDevice(gw, 'mutuelle-x', 'ingest-a');
  const env = await seal(pro, [ins], { type: 'text', subject: 'answer lost' });
  const id = toBase64Url(env.id);
  const queue = deviceQueue('mutuelle-x', 'ingest-a');
  const audited = async (action: string): Promise<number> =>
    (await gw.gateway.store.readAudit()).filter((e) => e.action === action && e.subject === id).length;

  const first = await postEnvelope(gw, 'kine-martin', env);
  t.equal(first.status, 201);
  const receipt = ((await first.json()) as { receipt: AcceptedReceipt }).receipt;
  const retry = await postEnvelope(gw, 'kine-martin', env);
  t.equal(retry.status, 200, 'the retry is a replay');
  t.same(((await retry.json()) as { receipt: AcceptedReceipt }).receipt, receipt, 'answered with the stored receipt');
  t.equal((await gw.gateway.store.queueStats(queue)).depth, 1, 'queued once');

  const inbox = await (await gw.as('mutuelle-x', '/v1/inbox?device=ingest-a&max=10')).json() as { messages: Array<{ id: string }> };
  t.equal(inbox.messages.length, 1, 'delivered once');
  t.equal((await gw.as('mutuelle-x', `/v1/inbox/${encodeURIComponent(inbox.messages[0]!.id)}/ack?device=ingest-a`, { method: 'POST' })).status, 200);
  t.equal((await postEnvelope(gw, 'kine-martin', env)).status, 200);
  const after = await gw.gateway.store.queueStats(queue);
  t.same([after.depth, after.inFlight], [0, 0], 'a replay after the ack queues nothing');
  t.same([await audited('message.accepted'), await audited('message.delivered')], [1, 1], 'accepted and delivered, audited once each');
  t.equal(await gw.gateway.store.verifyAudit(), undefined, 'the audit chain holds');
  const receipts = await (await gw.as('kine-martin', `/v1/messages/${id}/receipts`)).json() as { delivered: unknown[] };
  t.equal(receipts.delivered.length, 1, 'one delivered receipt');
}

t.test('LMDB: a retry after a lost answer is a replay, queued and audited once', async (t) => {
  const gw = await startMessagingGateway({ store: 'lmdb' });
  t.teardown(() => gw.cleanup());
  await retryAfterLostAnswer(t, gw);
});

t.test('Redis: a retry after a lost answer is a replay, queued and audited once', async (t) => {
  const gw = await startMessagingGateway({ store: 'redis' });
  t.teardown(() => gw.cleanup());
  await retryAfterLostAnswer(t, gw);
});
