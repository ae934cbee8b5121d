import t from 'tap';
import { poolRandom } from '../../../../gateway/core/random-pool.js';
import { newId } from '../../../../gateway/core/ids.js';

t.test('pool bytes are never handed out twice, across refills', async (t) => {
  const seen = new Set<string>();
  // 24-byte nonces: 2,000 draws span ~12 refills of the 4 KB pool.
  for (let i = 0; i < 2000; i++) seen.add(Buffer.from(poolRandom(24)).toString('hex'));
  t.equal(seen.size, 2000);
});

t.test('each draw is its own copy of the requested length', async (t) => {
  const a = poolRandom(16);
  const b = poolRandom(16);
  t.equal(a.length, 16);
  a.fill(0);
  t.not(Buffer.from(b).toString('hex'), '0'.repeat(32), 'wiping one draw leaves the next intact');
  t.equal(poolRandom(0).length, 0);
});

t.test('sizes outside the pool are refused', async (t) => {
  t.throws(() => poolRandom(4097), RangeError);
  t.throws(() => poolRandom(-1), RangeError);
  t.throws(() => poolRandom(1.5), RangeError);
});

t.test('ids stay unique and time-ordered with pooled randomness', async (t) => {
  const ids = Array.from({ length: 5000 }, (_, i) => newId('rec', 1_700_000_000_000 + Math.floor(i / 100)));
  t.equal(new Set(ids).size, ids.length);
  const sorted = [...ids].sort();
  t.same(ids.map((id) => id.slice(0, 14)), sorted.map((id) => id.slice(0, 14)), 'the time part sorts in creation order');
});
