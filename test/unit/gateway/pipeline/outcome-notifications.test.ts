import t from 'tap';
import { createLogger } from '../../../../gateway/log.js';
import type { NormalizationOutcome } from '../../../../gateway/core/ports.js';
import { NormalizationEventBus } from '../../../../gateway/pipeline/normalization-events.js';
import { RedisNotifications } from '../../../../gateway/pipeline/outcome-notifications.js';
import { LogSink } from '../../../helpers/gateway.js';
import { cleanPrefix, REDIS_URL, testPrefix } from '../../../helpers/redis.js';

const PHI = 'DOE^JANE';

function bus(prefix: string, sink: LogSink): NormalizationEventBus {
  const log = createLogger({ level: 'debug', destination: sink });
  return new NormalizationEventBus({ log, remote: new RedisNotifications({ url: REDIS_URL, prefix, log }) });
}

t.test('an outcome published in one process reaches listeners of another on the same prefix, ids and codes only', async (t) => {
  const prefix = testPrefix('events');
  const sink = new LogSink();
  const a = bus(prefix, sink);
  const b = bus(prefix, sink);
  const other = bus(testPrefix('events-other'), sink);
  t.teardown(async () => {
    await Promise.all([a.close(), b.close(), other.close()]);
    await cleanPrefix(prefix);
  });
  await Promise.all([a.start(), b.start(), other.start()]);
  const strays: string[] = [];
  other.subscribe((o) => strays.push(o.rawId));
  const local: NormalizationOutcome[] = [];
  b.subscribe((o) => local.push(o));

  const outcome: NormalizationOutcome = {
    rawId: 'raw-1', ok: false, recordIds: ['rec-1'],
    issues: [{ severity: 'error', code: 'value', where: 'PID-7', message: `PID-7 is not a valid DTM (${PHI})` }],
  };
  const seen = a.waitFor('raw-1');
  b.publish(outcome);
  const got = await seen;
  t.same({ rawId: got.rawId, ok: got.ok, recordIds: got.recordIds }, { rawId: 'raw-1', ok: false, recordIds: ['rec-1'] });
  t.same(got.issues.map((i) => [i.severity, i.code, i.where]), [['error', 'value', 'PID-7']]);
  t.notMatch(JSON.stringify(got), PHI, 'issue text from the other process is not carried');
  t.equal(local.length, 1, 'the publishing process served its own listeners once (its echo from Redis is ignored)');
  t.equal(local[0]?.issues[0]?.message, outcome.issues[0]?.message, 'local listeners keep the full outcome');

  // A marker after the first: once it arrived at `a`, any echo of raw-1 to `b` would have too.
  const marker = a.waitFor('raw-2');
  b.publish({ rawId: 'raw-2', ok: true, recordIds: [], issues: [] });
  await marker;
  t.same(local.map((o) => o.rawId), ['raw-1', 'raw-2']);
  t.same(strays, [], 'another prefix hears nothing');
});

t.test('start fails when Redis cannot be reached', async (t) => {
  const sink = new LogSink();
  const b = new NormalizationEventBus({ remote: new RedisNotifications({ url: 'redis://127.0.0.1:1', prefix: testPrefix('events'), log: createLogger({ level: 'silent', destination: sink }) }) });
  await t.rejects(b.start());
  await b.close();
});
