import { LuaScript } from './redis-conn.js';

/**
 * Queue scripts. A queue is a Redis Stream read through one consumer group: XADD makes an item
 * ready, XREADGROUP hands it out (it then sits in the group's pending-entries list), XACK + XDEL
 * finish it. Leases need more than the PEL's idle time, because each claim chooses its own lease
 * length: the `leases` zset scores every in-flight item by its leaseUntil, and an expired one is
 * taken over with XCLAIM. Item state is `attempt|token|streamId|enqueuedMs` in the `state` hash;
 * the token proves ownership, so a stale lease can never complete, fail or dead-letter an item.
 * Times come from the caller (epoch ms), the same clock as Lease.leaseUntil and retryAt.
 */

// Shared helpers, prepended to every queue script (and to the batch commit, which completes leases).
export const QUEUE_PRELUDE = `
local function unpackState(s)
  local a, t, sid, e = string.match(s, '^(%d+)|([^|]*)|([^|]*)|(%d+)$')
  return tonumber(a), t, sid, e
end
local function packState(a, t, sid, e) return a .. '|' .. t .. '|' .. sid .. '|' .. e end
local function ensureGroup(stream, group)
  if redis.call('EXISTS', stream) == 0 then redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM') end
end
-- The caller's token must be the item's current one; returns attempt and streamId, or nil.
local function owned(stateKey, id, token)
  local s = redis.call('HGET', stateKey, id)
  if not s then return nil end
  local a, t, sid, e = unpackState(s)
  if t == '' or t ~= token then return nil end
  return a, sid, e
end
-- Adds an item unless its id is waiting or in flight (q: stream, payload, state, delayed, waiting keys).
local function enqueueOne(q, id, payload, now, availableAt, group)
  if redis.call('HEXISTS', q[3], id) == 1 then return 0 end
  local sid = ''
  if tonumber(availableAt) > tonumber(now) then
    redis.call('ZADD', q[4], availableAt, id)
  else
    ensureGroup(q[1], group)
    sid = redis.call('XADD', q[1], '*', 'i', id)
  end
  redis.call('HSET', q[2], id, payload)
  redis.call('HSET', q[3], id, packState(0, '', sid, now))
  redis.call('ZADD', q[5], now, id)
  return 1
end
-- Removes a claimed item whose lease the token holds (q: stream, payload, state, leases keys); 0 if lost.
local function completeOne(q, id, token, group)
  local a, sid = owned(q[3], id, token)
  if not a then return 0 end
  redis.call('XACK', q[1], group, sid)
  redis.call('XDEL', q[1], sid)
  redis.call('HDEL', q[2], id)
  redis.call('HDEL', q[3], id)
  redis.call('ZREM', q[4], id)
  return 1
end
`;

const script = (name: string, numKeys: number, header: string, body: string): LuaScript =>
  new LuaScript(name, numKeys, `${header.trim()}\n${QUEUE_PRELUDE}${body}`);

/** Add an item unless its id is already waiting or in flight. */
export const QUEUE_ENQUEUE = script('queue-enqueue-5', 5, `
-- queue-enqueue-5: add one item to a queue, once per id while it is waiting or in flight.
-- KEYS[1] stream  KEYS[2] payload hash  KEYS[3] state hash  KEYS[4] delayed zset  KEYS[5] waiting zset
-- ARGV[1] item id  ARGV[2] payload JSON  ARGV[3] now ms  ARGV[4] available-at ms  ARGV[5] group
-- Returns 1 when added, 0 when the id was already there.
`, `
return enqueueOne(KEYS, ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
`);

// Claims one item for a new lease: promotes due retries, then takes over an expired lease (its
// stream id is older than any entry not yet delivered), else reads the next new entry.
// KEYS[1..6] as in queue-claim-6; returns false or {item id, payload JSON, attempt, leaseUntil}.
const CLAIM_ONE = `
local function claimOne(now, leaseMs, token, group, consumer)
  local leaseUntil = now + leaseMs
  ensureGroup(KEYS[1], group)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, 100)) do
    local s = redis.call('HGET', KEYS[3], id)
    if s then
      local a, t, _, e = unpackState(s)
      redis.call('HSET', KEYS[3], id, packState(a, t, redis.call('XADD', KEYS[1], '*', 'i', id), e))
    end
    redis.call('ZREM', KEYS[4], id)
  end
  local function grant(id, sid, attempt, e)
    redis.call('HSET', KEYS[3], id, packState(attempt, token, sid, e))
    redis.call('ZADD', KEYS[5], leaseUntil, id)
    redis.call('ZREM', KEYS[6], id)
    return {id, redis.call('HGET', KEYS[2], id), attempt, leaseUntil}
  end
  local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', '(' .. now, 'LIMIT', 0, 1)[1]
  if expired then
    local a, _, sid, e = unpackState(redis.call('HGET', KEYS[3], expired))
    redis.call('XCLAIM', KEYS[1], group, consumer, 0, sid)
    return grant(expired, sid, a + 1, e)
  end
  -- An entry without state was finished elsewhere; drop it and read on.
  for _ = 1, 16 do
    local got = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1, 'STREAMS', KEYS[1], '>')
    if not got then return false end
    local entry = got[1][2][1]
    local sid, id = entry[1], entry[2][2]
    local s = redis.call('HGET', KEYS[3], id)
    if s then
      local a, _, _, e = unpackState(s)
      return grant(id, sid, a + 1, e)
    end
    redis.call('XACK', KEYS[1], group, sid)
    redis.call('XDEL', KEYS[1], sid)
  end
  return false
end
`;

/** Claim the oldest claimable item. */
export const QUEUE_CLAIM = script('queue-claim-6', 6, `
-- queue-claim-6: claim the oldest claimable item for a new lease.
-- KEYS[1] stream  KEYS[2] payload hash  KEYS[3] state hash  KEYS[4] delayed zset
-- KEYS[5] leases zset  KEYS[6] waiting zset
-- ARGV[1] now ms  ARGV[2] lease ms  ARGV[3] new token  ARGV[4] group  ARGV[5] consumer
-- Returns false when nothing is claimable, else {item id, payload JSON, attempt, leaseUntil}.
`, `${CLAIM_ONE}
return claimOne(tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5])
`);

/** Claim up to N items for the queue's one applier (Store.claimBatch). */
export const QUEUE_CLAIM_BATCH = script('queue-claim-batch-7', 7, `
-- queue-claim-batch-7: claim up to ARGV[6] items, in queue order, if ARGV[7] is the queue's applier.
-- KEYS[1..6] as queue-claim-6  KEYS[7] applier key (string: applier name, expiring after the lease)
-- ARGV[1] now ms  ARGV[2] lease ms  ARGV[3..5] token prefix, group, consumer  ARGV[6] max  ARGV[7] applier
-- Returns {} when another applier holds the queue, else a flat list of {id, payload, attempt, leaseUntil} per item;
-- item n's token is ARGV[3] .. ':' .. n.
`, `${CLAIM_ONE}
local holder = redis.call('GET', KEYS[7])
if holder and holder ~= ARGV[7] then return {} end
local leaseMs = tonumber(ARGV[2])
if leaseMs > 0 then
  redis.call('SET', KEYS[7], ARGV[7], 'PX', leaseMs)
else
  redis.call('DEL', KEYS[7])
end
local out = {}
for n = 1, tonumber(ARGV[6]) do
  local got = claimOne(tonumber(ARGV[1]), leaseMs, ARGV[3] .. ':' .. n, ARGV[4], ARGV[5])
  if not got then break end
  for _, v in ipairs(got) do out[#out + 1] = v end
end
return out
`);

/** Finish an item for good. */
export const QUEUE_COMPLETE = script('queue-complete-4', 4, `
-- queue-complete-4: remove a claimed item.
-- KEYS[1] stream  KEYS[2] payload hash  KEYS[3] state hash  KEYS[4] leases zset
-- ARGV[1] item id  ARGV[2] lease token  ARGV[3] group
-- Returns 1, or 0 when the token is not the item's current one (lease lost).
`, `
return completeOne(KEYS, ARGV[1], ARGV[2], ARGV[3])
`);

/** Give an item back, ready again at retryAt; claim promotes it when due. */
export const QUEUE_FAIL = script('queue-fail-5', 5, `
-- queue-fail-5: end a lease and schedule the item again.
-- KEYS[1] stream  KEYS[2] state hash  KEYS[3] delayed zset  KEYS[4] leases zset  KEYS[5] waiting zset
-- ARGV[1] item id  ARGV[2] lease token  ARGV[3] retry-at ms  ARGV[4] group
-- Returns 1, or 0 when the lease was lost.
`, `
local a, sid, e = owned(KEYS[2], ARGV[1], ARGV[2])
if not a then return 0 end
redis.call('XACK', KEYS[1], ARGV[4], sid)
redis.call('XDEL', KEYS[1], sid)
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], packState(a, '', '', e))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[5], e, ARGV[1])
return 1
`);

/** Move an item to the dead-letter stream with its reason and attempt. */
export const QUEUE_DEAD = script('queue-dead-5', 5, `
-- queue-dead-5: end a lease and dead-letter the item.
-- KEYS[1] stream  KEYS[2] payload hash  KEYS[3] state hash  KEYS[4] leases zset  KEYS[5] dead stream
-- ARGV[1] item id  ARGV[2] lease token  ARGV[3] reason code  ARGV[4] now ms  ARGV[5] group
-- Returns 1, or 0 when the lease was lost.
`, `
local a, sid = owned(KEYS[3], ARGV[1], ARGV[2])
if not a then return 0 end
redis.call('XACK', KEYS[1], ARGV[5], sid)
redis.call('XDEL', KEYS[1], sid)
redis.call('ZREM', KEYS[4], ARGV[1])
local payload = redis.call('HGET', KEYS[2], ARGV[1]) or '{}'
redis.call('XADD', KEYS[5], '*', 'i', ARGV[1], 'p', payload, 'r', ARGV[3], 'a', a, 'at', ARGV[4])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
`);

/** One consistent snapshot of a queue's counters. */
export const QUEUE_STATS = script('queue-stats-3', 3, `
-- queue-stats-3: counters of one queue (read only).
-- KEYS[1] waiting zset  KEYS[2] leases zset  KEYS[3] dead stream
-- Returns {depth, in flight, dead, enqueue ms of the oldest waiting item or -1}.
`, `
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('XLEN', KEYS[3]), tonumber(oldest or '-1')}
`);
