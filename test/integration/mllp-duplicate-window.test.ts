import t from 'tap';
import { createLogger } from '../../gateway/log.js';
import { startGateway } from '../../gateway/main.js';
import { OUTCOME_SYSTEM } from '../../gateway/pipeline/normalization-outcome.js';
import { LogSink, mustLoad, writeTestConfig } from '../helpers/gateway.js';
import { ack, adt, MllpSender } from './mllp-support.js';

// Senders that re-stamp MSH-7 when they retransmit: with duplicates.msh7WindowSeconds, a resend
// that differs only in MSH-7 is the same message (one raw, the original ACK); without it, or with
// any other difference, it is a new message.

const feed = (name: string, window: string): string =>
  `  - name: ${name}\n    owner: chu-lyon\n    format: hl7v2\n${window}    mllp:\n      port: 0\n      allowFrom: [127.0.0.1]\n`;
const restamp = (message: string, msh7: string): string => message.replace('|20260101120000||', `|${msh7}||`);

t.test('a resend that changes only MSH-7 is a duplicate within the window, a new message without one', async (t) => {
  const cfg = writeTestConfig({
    store: 'lmdb',
    extraFeeds: feed('chu-window', '    duplicates: { msh7WindowSeconds: 300 }\n') + feed('chu-strict', ''),
  });
  const gw = await startGateway(mustLoad(cfg.dir), createLogger({ level: 'silent', destination: new LogSink() }));
  t.teardown(async () => {
    await gw.stop();
    await cfg.cleanup();
  });
  const outcomes = async (): Promise<number> => (await gw.store.findByType('OperationOutcome', { limit: 1000 })).length;

  const windowed = await MllpSender.connect(gw.mllp.get('chu-window')!.port);
  t.teardown(() => windowed.close());
  const original = adt('WIN-1', { pid: 'WIN-P1' });
  const first = ack(await windowed.send(original));
  t.equal(first.get('MSA-1'), 'AA');
  const resend = ack(await windowed.send(restamp(original, '20260101120512')));
  t.equal(resend.get('MSA-1'), 'AA', 'the re-stamped resend is acknowledged');
  t.equal(resend.get('MSA-2'), 'WIN-1');
  t.equal(resend.get('MSH-10'), first.get('MSH-10'), 'with the original ACK (same ACK control id): it is the same message');
  const otherPatient = ack(await windowed.send(adt('WIN-1', { pid: 'WIN-P2' })));
  t.equal(otherPatient.get('MSA-1'), 'AA');
  t.not(otherPatient.get('MSH-10'), first.get('MSH-10'), 'same control id, other content: a new message');

  const strict = await MllpSender.connect(gw.mllp.get('chu-strict')!.port);
  t.teardown(() => strict.close());
  const strictFirst = ack(await strict.send(adt('STR-1', { pid: 'STR-P1' })));
  const strictResend = ack(await strict.send(restamp(adt('STR-1', { pid: 'STR-P1' }), '20260101120512')));
  t.not(strictResend.get('MSH-10'), strictFirst.get('MSH-10'), 'without a window the re-stamped message is a new message');

  const deadline = Date.now() + 30_000;
  while ((await outcomes()) < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(await outcomes(), 4, 'four messages stored and normalized: WIN-1, WIN-1 (other patient), STR-1 twice');
  const patients = await gw.store.findByType('Patient', { limit: 100 });
  t.equal(patients.length, 3, 'WIN-P1 once, WIN-P2, STR-P1');
  const reused = await gw.store.findByType('OperationOutcome', { limit: 100 });
  t.ok(reused.some((o) => JSON.stringify(o.resource).includes('control-id-reused')), 'the strict feed flags the reused control id');
  t.ok(reused.every((o) => o.identifiers.some((i) => i.system === OUTCOME_SYSTEM)));
});
