// Strict wire decoding: every rule refused with PSL_ENVELOPE_MALFORMED naming the field, not the value.
import t from 'tap';
import { decodeEnvelope, encodeEnvelope, toWire, fromWire } from '../../../../protocol/crypto/envelope-codec.js';
import { sealEnvelope } from '../../../../protocol/crypto/envelope-seal.js';
import { SUITES } from '../../../../protocol/crypto/envelope-types.js';
import { device, NOW } from './fixtures.js';

const sender = await device('chu-lyon', 'his-01');
const a = await device('mutuelle-x', 'ingest-a');
const b = await device('mutuelle-x', 'ingest-b');
const env = await sealEnvelope({ suite: SUITES.classic, sender: sender.asSender, recipients: [a.asRecipient, b.asRecipient], now: NOW, content: { type: 'text', body: 'DUPONT Jean' } });
const good = toWire(env) as unknown as Record<string, unknown>;

const DELETE = Symbol('delete');
type Json = unknown;

/** A copy of the good wire value with one path changed; `fn` gets the old value. */
function patch(path: string, fn: (old: Json) => Json): Json {
  const w = JSON.parse(JSON.stringify(good)) as Json;
  const keys = path.split('.');
  let node = w as Record<string, Json>;
  for (const k of keys.slice(0, -1)) node = node[k] as Record<string, Json>;
  const last = keys.at(-1)!;
  const next = fn(node[last]);
  if (next === DELETE) delete node[last];
  else node[last] = next;
  return w;
}
const str = (v: Json): string => String(v);

function refusal(value: unknown): string {
  try {
    fromWire(value);
    return 'accepted';
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return e.code === 'PSL_ENVELOPE_MALFORMED' ? e.message ?? '' : `unexpected ${String(err)}`;
  }
}

t.test('round trip', async (t) => {
  t.same(toWire(decodeEnvelope(encodeEnvelope(env))), good);
  t.same(toWire(decodeEnvelope(new TextDecoder().decode(encodeEnvelope(env)))), good, 'text input');
});

t.test('refusals name the field', async (t) => {
  const cases: [string, unknown, string][] = [
    ['not an object', [], 'envelope: expected an object'],
    ['unknown top-level field', patch('extra', () => 1), 'envelope.extra: unknown field'],
    ['unknown field with a hostile name', patch('DUPONT Jean 1961', () => 1), 'envelope: unknown field'],
    ['missing sig', patch('sig', () => DELETE), 'envelope.sig: missing'],
    ['v', patch('v', () => 2), 'v: unsupported version'],
    ['suite', patch('suite', () => 'rsa.aes'), 'suite: not a known suite'],
    ['class', patch('class', () => 'claim'), 'class: expected message or receipt'],
    ['ts float', patch('ts', () => 1.5), 'ts: expected an integer in 0..9007199254740991'],
    ['expires before ts', patch('expires', () => good.ts), 'expires: must be after ts'],
    ['from.kid short', patch('from.kid', () => 'AAAA'), 'from.kid: expected 32 bytes'],
    ['from unknown field', patch('from.name', () => 'x'), 'from.name: unknown field'],
    ['from.participant', patch('from.participant', () => 'DUPONT Jean'), 'from.participant: not a valid identifier'],
    ['to empty', patch('to', () => []), 'to: expected 1..64 entries'],
    ['to[1].wrap length', patch('to.1.wrap', (o) => str(o).slice(0, 40)), 'to[1].wrap: expected 96 bytes'],
    ['to unsorted', patch('to', (o) => [...(o as Json[])].reverse()), 'to[1].kid: recipients must be sorted by kid without duplicates'],
    ['to duplicate', patch('to', (o) => [(o as Json[])[0], (o as Json[])[0]]), 'to[1].kid: recipients must be sorted by kid without duplicates'],
    ['padding', patch('commit', (o) => `${str(o)}=`), 'commit: expected canonical unpadded base64url'],
    ['standard alphabet', patch('nonce', (o) => `${str(o).slice(0, -1)}+`), 'nonce: expected canonical unpadded base64url'],
    ['payload not padded', patch('payload', (o) => Buffer.from(str(o), 'base64url').subarray(0, -8).toString('base64url')), 'payload: wrong length'],
    ['attachments not array', patch('attachments', () => ({})), 'attachments: expected an array'],
    ['attachment ref', patch('attachments', () => [{ ref: 'x', size: 1, hash: good.commit }]), 'attachments[0].ref: not a valid identifier'],
    ['attachment dup', patch('attachments', () => [{ ref: 'att_a', size: 1, hash: good.commit }, { ref: 'att_a', size: 1, hash: good.commit }]), 'attachments[1].ref: duplicate ref'],
    ['sig length', patch('sig', () => good.commit), 'sig: expected 64 bytes'],
  ];
  for (const [what, value, message] of cases) t.equal(refusal(value), message, what);
  t.throws(() => decodeEnvelope('{"v":1,'), { code: 'PSL_ENVELOPE_MALFORMED', message: 'envelope: not valid JSON' });
  t.throws(() => decodeEnvelope(Uint8Array.of(0xff, 0xfe)), { code: 'PSL_ENVELOPE_MALFORMED', message: 'envelope: not valid UTF-8' });
});

t.test('non-canonical base64url: trailing bits', async (t) => {
  // 32 bytes → 43 chars; the last char carries 2 spare bits that must be zero.
  const commit = str(good.commit);
  const last = commit.at(-1)!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const bumped = alphabet[(alphabet.indexOf(last) ^ 1)]!;
  t.match(refusal(patch('commit', () => commit.slice(0, -1) + bumped)), /^commit: expected canonical/);
});
