import { LuaScript } from './redis-conn.js';

/**
 * Lua scripts for raws, records and the audit log. Embedded as strings so they are found from
 * sources and from dist/ alike. Each is one atomic step; all decisions that need decryption or
 * SHA-256 happen in Node first, and the script re-checks what they were based on (compare-and-set).
 * Queue scripts live in redis-queue-scripts.ts.
 */

/** Dedupe and store a raw in one step, so two racing puts of the same bytes store once. */
export const RAW_PUT = new LuaScript('raw-put-4', 4, `
-- raw-put-4: store a raw message unless (feed, sha256) is already known (same message), or its
-- duplicate-window key was set less than the window ago.
-- KEYS[1] dedupe key for (feed, sha256)
-- KEYS[2] latest raw for (feed, sourceRef); same as KEYS[1] when the raw has no sourceRef
-- KEYS[3] raw hash to create
-- KEYS[4] duplicate-window key (feed, hash without MSH-7); same as KEYS[1] when the feed has no window
-- ARGV[1] raw id
-- ARGV[2] meta JSON (ids, hashes, sizes, sealed sourceRef; no content)
-- ARGV[3] sealed body
-- ARGV[4] window ms (0 = none); the window key expires with it
-- Returns the id of the original for a duplicate; else 1 when the sourceRef was already used
-- with other bytes (stored, flagged), 0 when stored.
local original = redis.call('GET', KEYS[1])
if original then return original end
if KEYS[4] ~= KEYS[1] then
  local similar = redis.call('GET', KEYS[4])
  if similar then return similar end
end
local reused = 0
if KEYS[2] ~= KEYS[1] and redis.call('EXISTS', KEYS[2]) == 1 then
  reused = 1
  local meta = cjson.decode(ARGV[2])
  meta['controlIdReused'] = true
  ARGV[2] = cjson.encode(meta)
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'm', ARGV[2], 'b', ARGV[3])
if KEYS[4] ~= KEYS[1] then redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[4]) end
return reused
`);

/** Read the latest version of a record in one round trip. */
export const RECORD_LATEST = new LuaScript('record-latest-2', 2, `
-- record-latest-2: the latest sealed version of one record.
-- KEYS[1] record hash (v = latest version)
-- KEYS[2] record versions hash (version -> sealed record)
-- Returns false when the record does not exist, else {version, sealed record}.
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return false end
return {tonumber(v), redis.call('HGET', KEYS[2], v)}
`);

/** Append to the audit list only if nobody appended since Node chained the entry. */
export const AUDIT_APPEND = new LuaScript('audit-append-1', 1, `
-- audit-append-1: append one hash-chained audit entry.
-- KEYS[1] audit list (index = seq - 1)
-- ARGV[1] length the entry was chained on (its seq - 1)
-- ARGV[2] entry JSON
-- Returns the new length, or -1 when the list grew meanwhile (Node re-chains and retries).
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return -1 end
return redis.call('RPUSH', KEYS[1], ARGV[2])
`);
