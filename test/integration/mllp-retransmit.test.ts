import t from 'tap';
import { createLogger } from '../../gateway/log.js';
import { startGateway } from '../../gateway/main.js';
import { LogSink, mustLoad, writeTestConfig } from '../helpers/gateway.js';
import { ack, adt, MllpSender } from './mllp-support.js';

// Every retransmission gets its answer: a resend of a message that asked for an application ACK
// gets that application ACK again (from the stored outcome), through the whole gateway.

const MLLP_FEED = '  - name: chu-mllp\n    owner: chu-lyon\n    format: hl7v2\n    mllp:\n      port: 0\n      allowFrom: [127.0.0.1]\n';

t.test('NE/AL, ER/AL and AL/AL resends are answered like the original', async (t) => {
  const cfg = writeTestConfig({ store: 'lmdb', extraFeeds: MLLP_FEED });
  const gw = await startGateway(mustLoad(cfg.dir), createLogger({ level: 'silent', destination: new LogSink() }));
  t.teardown(async () => {
    await gw.stop();
    await cfg.cleanup();
  });
  const s = await MllpSender.connect(gw.mllp.get('chu-mllp')!.port);
  t.teardown(() => s.close());

  for (const [accept, app] of [['NE', 'AL'], ['ER', 'AL'], ['AL', 'AL']] as const) {
    const message = adt(`RT-${accept}`, { ack: [accept, app], pid: `P-${accept}` });
    for (const attempt of ['original', 'resend'] as const) {
      s.write(`\x0b${message}\x1c\r`);
      if (accept === 'AL') t.equal(ack(await s.next(30_000)).get('MSA-1'), 'CA', `${accept}/${app} ${attempt}: commit ACK`);
      const appAck = ack(await s.next(30_000));
      t.match(appAck.get('MSA-1'), /^A[AE]$/, `${accept}/${app} ${attempt}: application ACK`);
      t.equal(appAck.get('MSA-2'), `RT-${accept}`);
    }
  }
  const plain = adt('RT-NE', { ack: ['NE', 'NE'], pid: 'P-NE-NE' });
  s.write(`\x0b${plain}\x1c\r`);
  s.write(`\x0b${plain}\x1c\r`);
  const marker = adt('RT-AFTER');
  t.equal(ack(await s.send(marker)).get('MSA-2'), 'RT-AFTER', 'NE/NE original and resend get nothing: the next answer is the next message');
});
