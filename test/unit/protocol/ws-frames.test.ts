import t from 'tap';
import {
  acceptedFrame, ackFrame, envelopeFrame, errorFrame, parseClientFrame, parseServerFrame, receiptFrame, rejectFrame,
} from '../../../protocol/ws-frames.js';

t.test('what one side builds, the other parses', async (t) => {
  t.same(parseClientFrame(ackFrame('kine-martin:ID')), { type: 'ack', id: 'kine-martin:ID' });
  t.same(parseClientFrame(rejectFrame('kine-martin:ID', { type: 'rejected', reason: 'malformed' })),
    { type: 'reject', id: 'kine-martin:ID', receipt: { type: 'rejected', reason: 'malformed' } });
  t.same(parseServerFrame(envelopeFrame('kine-martin:ID', '{"type":"accepted","id":"ID"}', '{"v":1}')),
    { type: 'envelope', id: 'kine-martin:ID', accepted: { type: 'accepted', id: 'ID' }, envelope: { v: 1 } });
  t.same(parseServerFrame(acceptedFrame({ type: 'accepted' }, 'r1')), { type: 'accepted', ref: 'r1', receipt: { type: 'accepted' } });
  t.same(parseServerFrame(acceptedFrame({ type: 'accepted' })), { type: 'accepted', receipt: { type: 'accepted' } });
  t.same(parseServerFrame(receiptFrame({ type: 'delivered' })), { type: 'receipt', receipt: { type: 'delivered' } });
  t.same(parseServerFrame(errorFrame({ code: 'PSL_NOT_FOUND', reason: 'not-in-flight', ref: 'r2' })),
    { type: 'error', ref: 'r2', code: 'PSL_NOT_FOUND', reason: 'not-in-flight' });
});

t.test('gateway frames that are not ours parse to nothing, without throwing', async (t) => {
  for (const bad of ['', 'null', '[]', '"envelope"', '{', '{"type":"envelope"}', '{"type":"envelope","id":7}', '{"type":"receipt"}',
    '{"type":"accepted"}', '{"type":"error","code":"PSL_INTERNAL"}', '{"type":"error","code":1,"reason":"x"}', '{"type":"other"}',
    '{"__proto__":{"type":"receipt"},"receipt":1}']) {
    t.equal(parseServerFrame(bad), undefined, bad);
  }
});
