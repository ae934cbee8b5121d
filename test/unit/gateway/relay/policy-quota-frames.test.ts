import t from 'tap';
import { errorFrame, parseClientFrame } from '../../../../protocol/ws-frames.js';
import { MessagingPolicy } from '../../../../gateway/relay/policy.js';
import { SenderQuota } from '../../../../gateway/relay/quota.js';

const participants = [
  { id: 'chu-lyon', kind: 'hospital' }, { id: 'kine-martin', kind: 'professional' }, { id: 'mutuelle-x', kind: 'insurer' },
  { id: 'mutuelle-y', kind: 'insurer' }, { id: 'labo', kind: 'lab' },
] as const;

t.test('policy: default deny, kinds and ids, both directions only when asked, self always', async (t) => {
  const p = new MessagingPolicy(participants, [
    { from: ['professional'], to: ['insurer'], both: true },
    { from: ['chu-lyon'], to: ['mutuelle-y'], both: false },
  ]);
  t.ok(p.allows('kine-martin', 'mutuelle-x'));
  t.ok(p.allows('mutuelle-x', 'kine-martin'), 'both: true');
  t.ok(p.allows('chu-lyon', 'mutuelle-y'), 'by id');
  t.notOk(p.allows('mutuelle-y', 'chu-lyon'), 'one direction only');
  t.notOk(p.allows('chu-lyon', 'mutuelle-x'), 'no rule');
  t.notOk(p.allows('labo', 'kine-martin'), 'default deny');
  t.ok(p.allows('labo', 'labo'), 'own devices');
  t.notOk(p.allows('kine-martin', 'stranger'), 'unknown participant');
  t.notOk(new MessagingPolicy(participants, []).allows('kine-martin', 'mutuelle-x'), 'no rules, no traffic');
});

t.test('quota: messages and bytes per minute, refilled over time, per sender', async (t) => {
  const q = new SenderQuota({ messagesPerMinute: 3, bytesPerMinute: 10_000 });
  const t0 = 1_000_000;
  t.equal(q.take('a', 100, t0), 0);
  t.equal(q.take('a', 100, t0), 0);
  t.equal(q.take('a', 100, t0), 0);
  const wait = q.take('a', 100, t0);
  t.ok(wait > 0 && wait <= 20_000, 'fourth message waits for a third of a minute');
  t.equal(q.take('b', 100, t0), 0, 'another sender has its own bucket');
  t.equal(q.take('a', 100, t0 + 20_000), 0, 'refilled');
  t.ok(q.take('c', 20_000, t0) > 0, 'bytes limit');
});

t.test('frames: only our JSON shapes parse; error frames carry code and reason only', async (t) => {
  t.same(parseClientFrame('{"type":"ack","id":"a:b"}'), { type: 'ack', id: 'a:b' });
  t.same(parseClientFrame('{"type":"send","envelope":{"v":1},"ref":"r"}'), { type: 'send', envelope: { v: 1 }, ref: 'r' });
  t.same(parseClientFrame('{"type":"reject","id":"a:b","receipt":{"type":"rejected"}}'), { type: 'reject', id: 'a:b', receipt: { type: 'rejected' } });
  for (const bad of ['', 'null', '[]', '{"type":"ack"}', '{"type":"reject","id":"a:b"}', '{"type":"reject","receipt":{}}', '{"type":"send","envelope":1}', '{"type":"nope"}', `{"type":"send","envelope":{},"ref":"${'x'.repeat(65)}"}`]) {
    t.equal(parseClientFrame(bad), undefined, bad.slice(0, 30));
  }
  t.same(JSON.parse(errorFrame({ code: 'PSL_FORBIDDEN', reason: 'policy', ref: 'r' })), { type: 'error', ref: 'r', code: 'PSL_FORBIDDEN', reason: 'policy' });
});
