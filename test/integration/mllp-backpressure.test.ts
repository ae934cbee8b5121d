import t from 'tap';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../gateway/log.js';
import { startGateway } from '../../gateway/main.js';
import { NORMALIZE_QUEUE } from '../../gateway/pipeline/intake.js';
import { LogSink, mustLoad, writeTestConfig } from '../helpers/gateway.js';
import { ack, adt, frame, MllpSender } from './mllp-support.js';

// normalize.maxBacklog over a real MLLP socket: with the queue full, a message waits before it is
// stored (no commit ACK), then is stored and acknowledged once the queue has room. Nothing is lost.

const MLLP_FEED = '  - name: chu-mllp\n    owner: chu-lyon\n    format: hl7v2\n    mllp:\n      port: 0\n      allowFrom: [127.0.0.1]\n';

for (const store of ['lmdb', 'redis'] as const) {
  t.test(`${store}: a full normalize backlog holds intake back until there is room`, async (t) => {
    const cfg = writeTestConfig({ store, extraFeeds: MLLP_FEED });
    // No worker here: the queue only grows, until the test drains it by hand.
    appendFileSync(join(cfg.dir, 'gateway.yaml'), 'normalize:\n  enabled: false\n  maxBacklog: 3\n');
    const logs = new LogSink();
    const gw = await startGateway(mustLoad(cfg.dir), createLogger({ level: 'info', destination: logs }));
    t.teardown(async () => {
      await gw.stop();
      await cfg.cleanup();
    });
    const admin = { authorization: `Bearer ${cfg.tokens.ops}` };
    const paused = async (): Promise<string | undefined> =>
      (await (await fetch(`${gw.url}/metrics`, { headers: admin })).text()).match(/^passerelle_intake_paused (\d)/m)?.[1];
    const s = await MllpSender.connect(gw.mllp.get('chu-mllp')!.port);
    t.teardown(() => s.close());

    for (let i = 1; i <= 3; i++) t.equal(ack(await s.send(adt(`BP-${i}`))).get('MSA-1'), 'AA', `message ${i} stored while there is room`);
    for (let i = 0; i < 40 && (await paused()) !== '1'; i++) await sleep(50);
    t.equal(await paused(), '1', 'three waiting messages fill a backlog of 3: intake pauses');

    s.write(frame(adt('BP-4')));
    const fourth = s.next(20_000);
    t.equal(await Promise.race([fourth.then(() => 'ack'), sleep(1_000).then(() => 'none')]), 'none', 'no ACK while the backlog is full');
    t.match(await gw.store.queueStats(NORMALIZE_QUEUE), { depth: 3 }, 'and the message is not stored yet');

    // Normalization catches up (here: the test completes the items, as a worker would).
    const leases = await gw.store.claimBatch(NORMALIZE_QUEUE, { max: 10, leaseMs: 10_000, applier: 'test' });
    t.equal(leases.length, 3);
    await gw.store.commitBatch(leases, () => undefined);
    t.equal(ack(await fourth).get('MSA-1'), 'AA', 'once there is room, the waiting message is stored and acknowledged');
    t.match(await gw.store.queueStats(NORMALIZE_QUEUE), { depth: 1 }, 'it was queued for normalization');
    t.equal(await paused(), '0');
    t.ok(logs.lines.some((l) => l.includes('"intake paused: normalize backlog full"') && l.includes('"code":"PSL_BACKLOG_FULL"')), 'the pause is logged');
    t.ok(logs.lines.some((l) => l.includes('"intake resumed"')));
  });
}
