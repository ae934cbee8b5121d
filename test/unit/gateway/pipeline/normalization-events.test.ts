import t from 'tap';
import type { NormalizationOutcome } from '../../../../gateway/core/ports.js';
import { createLogger } from '../../../../gateway/log.js';
import { NormalizationEventBus } from '../../../../gateway/pipeline/normalization-events.js';
import { LogSink } from '../../../helpers/gateway.js';

const outcome = (rawId: string): NormalizationOutcome => ({ rawId, ok: true, issues: [], recordIds: [] });

t.test('a throwing listener is logged and skipped; the others still get the outcome', async (t) => {
  const logs = new LogSink();
  const bus = new NormalizationEventBus({ log: createLogger({ level: 'info', destination: logs }) });
  const got: string[] = [];
  bus.subscribe(() => {
    throw new Error('listener bug');
  });
  bus.subscribe((o) => got.push(o.rawId));
  bus.publish(outcome('raw_1'));
  t.same(got, ['raw_1']);
  t.ok(logs.lines.some((l) => l.includes('"normalization listener failed"') && l.includes('"rawId":"raw_1"')));
});

t.test('unsubscribe stops delivery; the same function may subscribe twice', async (t) => {
  const bus = new NormalizationEventBus();
  const got: string[] = [];
  const fn = (o: NormalizationOutcome): void => {
    got.push(o.rawId);
  };
  const off1 = bus.subscribe(fn);
  const off2 = bus.subscribe(fn);
  bus.publish(outcome('a'));
  off1();
  bus.publish(outcome('b'));
  off2();
  bus.publish(outcome('c'));
  t.same(got, ['a', 'a', 'b']);
});

t.test('waitFor resolves on its rawId only, and rejects when aborted', async (t) => {
  const bus = new NormalizationEventBus();
  const p = bus.waitFor('raw_2');
  bus.publish(outcome('raw_other'));
  bus.publish(outcome('raw_2'));
  t.equal((await p).rawId, 'raw_2');
  const ac = new AbortController();
  const q = bus.waitFor('raw_never', ac.signal);
  ac.abort(new Error('gave up'));
  await t.rejects(q, { message: 'gave up' });
  await t.rejects(bus.waitFor('raw_x', AbortSignal.abort(new Error('already'))), { message: 'already' });
});
