import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_REGISTRY, httpStatusOf, wsCloseOf, type ErrorCode } from '../../../protocol/errors.js';
import { REPO_ROOT, listFiles } from '../../helpers/corpus.js';

const sources = ['protocol', 'gateway', 'adapters', 'client'].flatMap((d) => listFiles(join(REPO_ROOT, d), '.ts'));

t.test('every registry entry says how it looks on every wire', async (t) => {
  for (const [code, e] of Object.entries(ERROR_REGISTRY)) {
    t.ok(e.http >= 400 && e.http <= 599, `${code}: HTTP ${e.http}`);
    t.ok(e.ack === 'AE' || e.ack === 'AR', `${code}: ACK ${e.ack}`);
    // 1004-1006 and 1015 are reserved (never sent); 1000 is a normal close, not an error.
    t.ok((e.ws >= 1001 && e.ws <= 1014 && ![1004, 1005, 1006].includes(e.ws)) || (e.ws >= 4000 && e.ws <= 4999), `${code}: ws ${e.ws}`);
    t.ok(e.message.length > 0);
  }
  t.equal(httpStatusOf('PSL_CONFLICT'), 409);
  t.equal(wsCloseOf('PSL_FORBIDDEN'), 4003, 'a revoked device is closed with 4003, as documented');
});

t.test('every code the sources name is in the registry', async (t) => {
  const named = new Set<string>();
  for (const f of sources) for (const m of readFileSync(f, 'utf8').matchAll(/\bPSL_[A-Z0-9_]+\b/g)) named.add(m[0]);
  const unknown = [...named].filter((c) => !(c in ERROR_REGISTRY));
  t.same(unknown, [], 'no code outside the registry can reach a wire');
  t.ok(named.size > 20, `${named.size} codes named`);
});

t.test('no boundary picks a status of its own for a registry code', async (t) => {
  // A literal status next to a code (`[409, 'PSL_…']`, `status: 409, code: 'PSL_…'`) is how the
  // mappers used to disagree with the registry.
  const pairs = sources.filter((f) => !f.endsWith('protocol/errors.ts')).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\b[45]\d\d\b[^\n;]{0,12}'PSL_[A-Z_]+'/g)]
    .map((m) => `${f.slice(REPO_ROOT.length + 1)}: ${m[0]}`));
  t.same(pairs, []);
  const codes: ErrorCode[] = Object.keys(ERROR_REGISTRY) as ErrorCode[];
  t.ok(codes.includes('PSL_GATEWAY_UNREACHABLE') && codes.includes('PSL_DEPENDENCY_MISSING'), 'the client has codes of its own meaning');
});
