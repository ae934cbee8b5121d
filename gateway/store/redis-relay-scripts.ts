import { LuaScript } from './redis-conn.js';
import { QUEUE_PRELUDE } from './redis-queue-scripts.js';

/**
 * The relay's two multi-key steps on Redis, each one script, so one atomic and (with
 * `appendfsync always`) one durable step like LMDB's one write transaction. Both end by pushing
 * a hash-chained audit entry, only while the audit list still has the length the entry was
 * chained on (RedisAudit.appendVia re-chains and runs the script again when it grew).
 */

/** RelayStore.acceptEnvelope. */
export const RELAY_ACCEPT = new LuaScript('relay-accept-n', undefined, `
-- relay-accept-n: an envelope's receipt, values, per-device queue entries and audit entry, or nothing.
-- KEYS[1] audit list, KEYS[2] receipt key, KEYS[3..2+v] the other values, then 5 keys per delivery
--   (stream, payload hash, state hash, delayed zset, waiting zset)
-- ARGV[1] audit length the entry was chained on  ARGV[2] entry JSON  ARGV[3] now ms  ARGV[4] group
-- ARGV[5] v (values besides the receipt)  ARGV[6] d (deliveries)
-- then (sealed value, expiry ms) for the receipt and each value, then (item id, payload JSON) per delivery
-- Returns {1, stored receipt} when a live receipt exists (nothing written), {2} when the audit list
-- grew meanwhile (nothing written), {0} when everything was written.
${QUEUE_PRELUDE}
local old = redis.call('GET', KEYS[2])
if old then return {1, old} end
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return {2} end
local v, d = tonumber(ARGV[5]), tonumber(ARGV[6])
for i = 0, v do
  redis.call('SET', KEYS[2 + i], ARGV[7 + 2 * i], 'PXAT', ARGV[8 + 2 * i])
end
local a = 7 + 2 * (v + 1)
for j = 0, d - 1 do
  local k = 3 + v + 5 * j
  enqueueOne({ KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4] }, ARGV[a + 2 * j], ARGV[a + 2 * j + 1], ARGV[3], ARGV[3], ARGV[4])
end
redis.call('RPUSH', KEYS[1], ARGV[2])
return {0}
`);

/** RelayStore.settleDelivery. */
export const RELAY_SETTLE = new LuaScript('relay-settle-7', 7, `
-- relay-settle-7: complete a delivery's lease, append the device's outcome, audit, drop the envelope at the count.
-- KEYS[1] audit list  KEYS[2] outcome list  KEYS[3] key to drop  KEYS[4..7] stream, payload hash, state hash, leases zset
-- ARGV[1] audit length the entry was chained on  ARGV[2] entry JSON  ARGV[3] sealed outcome  ARGV[4] list expiry ms
-- ARGV[5] drop count  ARGV[6] item id  ARGV[7] lease token  ARGV[8] group
-- Returns {0, list length}, {2} when the audit list grew meanwhile, {3} when the lease is lost
-- (nothing written in either case).
${QUEUE_PRELUDE}
if not owned(KEYS[6], ARGV[6], ARGV[7]) then return {3} end
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return {2} end
completeOne({ KEYS[4], KEYS[5], KEYS[6], KEYS[7] }, ARGV[6], ARGV[7], ARGV[8])
local n = redis.call('RPUSH', KEYS[2], ARGV[3])
if redis.call('PEXPIRETIME', KEYS[2]) < tonumber(ARGV[4]) then redis.call('PEXPIREAT', KEYS[2], ARGV[4]) end
redis.call('RPUSH', KEYS[1], ARGV[2])
if n >= tonumber(ARGV[5]) then redis.call('DEL', KEYS[3]) end
return {0, n}
`);
