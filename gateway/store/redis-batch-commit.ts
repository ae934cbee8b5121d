import { GatewayError } from '../../protocol/errors.js';
import type { Lease } from '../core/types.js';
import type { AtRestCipher } from './at-rest.js';
import type { RedisBatch } from './redis-batch.js';
import { LuaScript, toArg, type RedisConn } from './redis-conn.js';
import { indexMember, type RedisKeys } from './redis-keys.js';
import { QUEUE_PRELUDE } from './redis-queue-scripts.js';
import { GROUP } from './redis-queue.js';

/** What the batch script answers. */
export type BatchReply = 'committed' | 'moved' | 'lease-lost';

/**
 * Commit a batch: check that nothing it read moved and that its leases are held, then write every
 * record version with its index moves, open its identity conflicts and complete its leases, all in
 * one script, so a batch is applied whole or not at all.
 */
const BATCH_COMMIT = new LuaScript('batch-commit-n', undefined, `
-- batch-commit-n: compare-and-set a whole normalize batch (records, conflicts, lease completions).
-- KEYS: every key the plan names, referenced by 1-based index.
-- ARGV[1] plan JSON:
--   v = {{record hash, version read (0 = absent)}}       s = {{match set, sorted members joined by LF}}
--   l = {{stream, payload, state, leases, item id, token}} g = consumer group
--   w = {{record hash, versions hash, old type zset or 0, new type zset, {old sets}, {new sets},
--         old member or '', new member, resourceType, lastUpdated ms, record id, version, ARGV index of the sealed version}}
--   c = {{conflicts hash, conflict id, ARGV index of its JSON}}
-- Returns 1 when committed; -1 when a record or match set it read moved; -3 when a lease is lost.
${QUEUE_PRELUDE}
local plan = cjson.decode(ARGV[1])
for _, c in ipairs(plan.v) do
  if tonumber(redis.call('HGET', KEYS[c[1]], 'v') or '0') ~= c[2] then return -1 end
end
for _, c in ipairs(plan.s) do
  local m = redis.call('SMEMBERS', KEYS[c[1]])
  table.sort(m)
  if table.concat(m, '\\n') ~= c[2] then return -1 end
end
for _, l in ipairs(plan.l) do
  if not owned(KEYS[l[3]], l[5], l[6]) then return -3 end
end
for _, w in ipairs(plan.w) do
  if w[7] ~= '' then
    redis.call('ZREM', KEYS[w[3]], w[11])
    for _, k in ipairs(w[5]) do redis.call('SREM', KEYS[k], w[7]) end
  end
  for _, k in ipairs(w[6]) do redis.call('SADD', KEYS[k], w[8]) end
  redis.call('ZADD', KEYS[w[4]], w[10], w[11])
  redis.call('HSET', KEYS[w[2]], w[12], ARGV[w[13]])
  redis.call('HSET', KEYS[w[1]], 'v', w[12], 't', w[9], 'u', w[10])
end
for _, c in ipairs(plan.c) do redis.call('HSET', KEYS[c[1]], c[2], ARGV[c[3]]) end
for _, l in ipairs(plan.l) do
  local _, sid = owned(KEYS[l[3]], l[5], l[6])
  redis.call('XACK', KEYS[l[1]], plan.g, sid)
  redis.call('XDEL', KEYS[l[1]], sid)
  redis.call('HDEL', KEYS[l[2]], l[5])
  redis.call('HDEL', KEYS[l[3]], l[5])
  redis.call('ZREM', KEYS[l[4]], l[5])
end
return 1
`);

/** KEYS for one script call: each key once, referenced by its 1-based index. */
class KeyList {
  readonly keys: string[] = [];
  readonly #index = new Map<string, number>();

  at(key: string): number {
    let i = this.#index.get(key);
    if (i === undefined) {
      i = this.keys.push(key);
      this.#index.set(key, i);
    }
    return i;
  }
}

/**
 * Runs a complete batch's writes as one BATCH_COMMIT. Record versions are sealed here, once, and
 * not during discovery runs.
 * @param conn - connection
 * @param keys - key layout
 * @param cipher - seals record versions at rest
 * @param batch - a complete run of the batch's work
 * @param leases - the leases to complete with it
 */
export async function commitBatchWrites(conn: RedisConn, keys: RedisKeys, cipher: AtRestCipher, batch: RedisBatch, leases: readonly Lease[]): Promise<BatchReply> {
  const k = new KeyList();
  const args: Buffer[] = [];
  const arg = (value: Buffer): number => args.push(value) + 1;
  const plan = {
    v: [...batch.readRecords].map(([id, version]) => [k.at(keys.record(id)), version]),
    s: [...batch.readSets].map(([set, members]) => [k.at(set), [...members].sort().join('\n')]),
    l: leases.map((l) => {
      const q = keys.queue(l.queue);
      return [k.at(q.stream), k.at(q.payload), k.at(q.state), k.at(q.leases), l.item.id, l.token];
    }),
    g: GROUP,
    w: batch.writes.map(({ record, previous, claims }) => {
      const oldSets = previous === undefined ? [] : [
        ...batch.matchSets(previous, previous.matchKeys ?? []),
        ...previous.identifiers.map((i) => keys.byIdentifier(i)),
        ...(previous.patientId === undefined ? [] : [keys.byPatient(previous.patientId)]),
      ];
      const newSets = [
        ...claims,
        ...record.identifiers.map((i) => keys.byIdentifier(i)),
        ...(record.patientId === undefined ? [] : [keys.byPatient(record.patientId)]),
      ];
      const sealed = cipher.sealJson(record, `rec:${record.id}:${record.version}`);
      return [
        k.at(keys.record(record.id)), k.at(keys.recordVersions(record.id)),
        previous === undefined ? 0 : k.at(keys.byType(previous.resourceType)), k.at(keys.byType(record.resourceType)),
        oldSets.map((s) => k.at(s)), newSets.map((s) => k.at(s)),
        previous === undefined ? '' : indexMember(previous.resourceType, record.id), indexMember(record.resourceType, record.id),
        record.resourceType, String(Date.parse(record.lastUpdated)), record.id, String(record.version), arg(toArg(sealed)),
      ];
    }),
    c: batch.conflicts.map((c) => [k.at(keys.identityConflicts()), c.id, arg(Buffer.from(JSON.stringify(c)))]),
  };
  const reply = await BATCH_COMMIT.run<number>(conn, k.keys, [JSON.stringify(plan), ...args]);
  if (reply === 1) return 'committed';
  if (reply === -1) return 'moved';
  if (reply === -3) return 'lease-lost';
  throw new GatewayError('PSL_INTERNAL', `batch commit answered ${String(reply)}`);
}
