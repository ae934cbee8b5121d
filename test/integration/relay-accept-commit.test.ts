import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { GatewayError } from '../../gateway/core/errors.js';
import { toBase64Url } from '../../gateway/crypto/base64url.js';
import type { AcceptedReceipt } from '../../gateway/relay/receipts.js';
import { deviceQueue } from '../../gateway/relay/relay.js';
import { postEnvelope, registerDevice, seal, startMessagingGateway, type MessagingGateway, type TestDevice } from './relay-fixture.js';

/** LMDB's id of the last committed write transaction: one more per commit (and per fsync). */
function lastCommit(path: string): number {
  if (!existsSync(join(path, 'data.mdb'))) throw new Error(`no LMDB environment at ${path}`);
  // Read-only: opening for writes could wait on the writer lock the gateway's own commits hold.
  return (openLmdb({ path, readOnly: true }).getStats() as { lastTxnId: number }).lastTxnId;
}

t.test('LMDB: accepting an envelope for two devices is one commit in the relay store and one in the Store', async (t) => {
  const gw = await startMessagingGateway({ store: 'lmdb' });
  t.teardown(() => gw.cleanup());
  const pro = await registerDevice(gw, 'kine-martin', 'pro-1');
  const insA = await registerDevice(gw, 'mutuelle-x', 'ingest-a');
  const insB = await registerDevice(gw, 'mutuelle-x', 'ingest-b');
  const env = await seal(pro, [insA, insB], { type: 'text', subject: 'one commit' });
  const relayPath = join(gw.dir, 'data', 'lmdb-relay');
  const storePath = join(gw.dir, 'data', 'lmdb');
  const before = [lastCommit(relayPath), lastCommit(storePath)];
  t.equal((await postEnvelope(gw, 'kine-martin', env)).status, 201);
  const after = [lastCommit(relayPath), lastCommit(storePath)];
  t.same([after[0]! - before[0]!, after[1]! - before[1]!], [1, 1],
    'envelope + receipt in one relay commit; both queue entries + the audit entry in one Store commit');
  const queued = await Promise.all([deviceQueue('mutuelle-x', 'ingest-a'), deviceQueue('mutuelle-x', 'ingest-b')].map((q) => gw.gateway.store.queueStats(q)));
  t.same(queued.map((q) => q.depth), [1, 1], 'and both devices have their entry');
});

/**
 * The Store commit fails as if the process had died right after the relay commit: envelope and
 * receipt are durable, nothing is queued, and the sender never got the receipt.
 */
function crashNextStoreCommit(gw: MessagingGateway): void {
  const store = gw.gateway.store;
  const { enqueue, appendAudit } = store;
  const died = (): Promise<never> => {
    // Every write of that commit is issued in the same turn; the next turn is after the "restart".
    setImmediate(() => {
      store.enqueue = enqueue;
      store.appendAudit = appendAudit;
    });
    return Promise.reject(new GatewayError('PSL_STORE_UNAVAILABLE', 'process died before the Store commit'));
  };
  store.enqueue = died;
  store.appendAudit = died;
}

async function crashThenReplay(t: Test, gw: MessagingGateway): Promise<void> {
  const pro: TestDevice = await registerDevice(gw, 'kine-martin', 'pro-1');
  const ins: TestDevice = await registerDevice(gw, 'mutuelle-x', 'ingest-a');
  const env = await seal(pro, [ins], { type: 'text', subject: 'crash between the commits' });
  const id = toBase64Url(env.id);
  const queue = deviceQueue('mutuelle-x', 'ingest-a');
  const audited = async (): Promise<number> =>
    (await gw.gateway.store.readAudit()).filter((e) => e.action === 'message.accepted' && e.subject === id).length;

  crashNextStoreCommit(gw);
  t.equal((await postEnvelope(gw, 'kine-martin', env)).status, 503, 'no accepted answer: the sender will retry');
  t.equal((await gw.gateway.store.queueStats(queue)).depth, 0, 'nothing queued');
  const stored = await (await gw.as('kine-martin', `/v1/messages/${id}/receipts`)).json() as { accepted: AcceptedReceipt };
  t.equal(stored.accepted.id, id, 'the relay commit (envelope and receipt) is durable');

  const retry = await postEnvelope(gw, 'kine-martin', env);
  t.equal(retry.status, 200, 'the retry is a replay');
  t.same(((await retry.json()) as { receipt: AcceptedReceipt }).receipt, stored.accepted, 'answered with the stored receipt');
  t.equal((await gw.gateway.store.queueStats(queue)).depth, 1, 'and the replay wrote the missing queue entry');
  t.equal((await postEnvelope(gw, 'kine-martin', env)).status, 200);
  t.equal((await gw.gateway.store.queueStats(queue)).depth, 1, 'a second replay does not queue it twice');

  const inbox = await (await gw.as('mutuelle-x', '/v1/inbox?device=ingest-a&max=10')).json() as { messages: Array<{ id: string }> };
  t.equal(inbox.messages.length, 1, 'delivered once');
  t.equal((await gw.as('mutuelle-x', `/v1/inbox/${encodeURIComponent(inbox.messages[0]!.id)}/ack?device=ingest-a`, { method: 'POST' })).status, 200);
  t.equal((await postEnvelope(gw, 'kine-martin', env)).status, 200);
  const after = await gw.gateway.store.queueStats(queue);
  t.same([after.depth, after.inFlight], [0, 0], 'a replay after the ack queues nothing: the device has its delivered receipt');
  t.equal(await audited(), 2, 'audited with each queue write (the two replays before the ack); not the crashed attempt, not the replay after delivery');
}

t.test('LMDB: a crash between the relay commit and the Store commit is repaired by the sender\'s retry, once', async (t) => {
  const gw = await startMessagingGateway({ store: 'lmdb' });
  t.teardown(() => gw.cleanup());
  await crashThenReplay(t, gw);
});

t.test('Redis: a crash between the relay commit and the Store commit is repaired by the sender\'s retry, once', async (t) => {
  const gw = await startMessagingGateway({ store: 'redis' });
  t.teardown(() => gw.cleanup());
  await crashThenReplay(t, gw);
});
