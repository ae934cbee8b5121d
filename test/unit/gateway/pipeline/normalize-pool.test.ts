import t from 'tap';
import { buildNormalizers } from '../../../../adapters/normalizers.js';
import type { RawMessage } from '../../../../gateway/core/types.js';
import { createLogger } from '../../../../gateway/log.js';
import { NormalizePool } from '../../../../gateway/pipeline/normalize-pool.js';
import { makeRaw } from '../../../contract/store.conformance.js';
import { adt } from '../../../integration/mllp-support.js';

const feeds = [
  { name: 'chu-adt', format: 'hl7v2' as const },
  { name: 'paris-adt', format: 'hl7v2' as const, timeZone: 'Europe/Paris' },
];
const script = new URL('../../../../adapters/normalize-thread.ts', import.meta.url);

t.test('threads map exactly like the main thread, per feed settings included', async (t) => {
  const pool = new NormalizePool({ script, workerData: { feeds }, size: 2, log: createLogger({ level: 'silent' }) });
  t.teardown(() => pool.close());
  const inProcess = buildNormalizers(feeds).get('hl7v2')!;
  const raws: RawMessage[] = ['chu-adt', 'paris-adt'].flatMap((feed) => Array.from({ length: 6 }, (_, i) =>
    ({ ...makeRaw({ feed, body: adt(`POOL-${feed}-${i}`, { pid: `POOL${i}` }) }), participant: 'chu-lyon' })));
  const threaded = await Promise.all(raws.map((raw) => pool.normalize(raw)));
  threaded.forEach((result, i) => t.same(result, inProcess.normalize(raws[i]!), `message ${i}: same records and issues`));
  const [utc, paris] = [threaded[0], threaded[6]];
  t.not(JSON.stringify(utc), JSON.stringify(paris), "the feed's time zone reached the thread");
});

t.test('a message the normalizer cannot map is an issue, not a failure; a closed pool refuses', async (t) => {
  const pool = new NormalizePool({ script, workerData: { feeds }, size: 1, log: createLogger({ level: 'silent' }) });
  const garbage = { ...makeRaw({ feed: 'chu-adt', body: 'not an HL7 message at all' }), participant: 'chu-lyon' };
  const result = await pool.normalize(garbage);
  t.equal(result.ok, false);
  t.ok(result.issues.length > 0, 'issues say why');
  await pool.close();
  await t.rejects(pool.normalize(garbage), { code: 'PSL_SHUTTING_DOWN' });
});
