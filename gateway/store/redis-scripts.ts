import { LuaScript } from './redis-conn.js';

/**
 * Lua scripts for raws, records and the audit log. Embedded as strings so they are found from
 * sources and from dist/ alike. Each is one atomic step; all decisions that need decryption or
 * SHA-256 happen in Node first, and the script re-checks what they were based on (compare-and-set).
 * Queue scripts live in redis-queue-scripts.ts.
 */

/** Dedupe and store a raw in one step, so two racing puts of the same bytes store once. */
export const RAW_PUT = new LuaScript('raw-put-3', 3, `
-- raw-put-3: store a raw message unless (feed, sha256) is already known (same message).
-- KEYS[1] dedupe key for (feed, sha256)
-- KEYS[2] latest raw for (feed, sourceRef); same as KEYS[1] when the raw has no sourceRef
-- KEYS[3] raw hash to create
-- ARGV[1] raw id
-- ARGV[2] meta JSON (ids, hashes, sizes, sealed sourceRef; no content)
-- ARGV[3] sealed body
-- Returns the id of the original for a duplicate; else 1 when the sourceRef was already used
-- with other bytes (stored, flagged), 0 when stored.
local original = redis.call('GET', KEYS[1])
if original then return original end
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

/**
 * Write a new record version and move its index entries, if nothing changed since Node read the
 * record. The key count varies with the number of index sets, hence no count in the name.
 */
export const RECORD_PUT = new LuaScript('record-put-n', undefined, `
-- record-put-n: compare-and-set one record version plus its indexes.
-- KEYS[1] record hash (v, t, u)
-- KEYS[2] record versions hash
-- KEYS[3] type index of the previous version (zset; same as KEYS[4] on create)
-- KEYS[4] type index of the new version
-- KEYS[5 .. 4+ARGV[9]] index sets (identifier, patient) the previous version is in
-- next ARGV[10] keys: identifier index sets of the new version
-- last key when ARGV[11] == '1': patient index set of the new version
-- ARGV[1] version Node based its decision on (0 = record did not exist)
-- ARGV[2] new version
-- ARGV[3] sealed new version
-- ARGV[4] index member of the previous version (type|id), '' on create
-- ARGV[5] index member of the new version
-- ARGV[6] resourceType
-- ARGV[7] lastUpdated, epoch ms
-- ARGV[8] record id
-- ARGV[9] number of previous index sets
-- ARGV[10] number of new identifier sets
-- ARGV[11] '1' when the new version has a patient index set
-- ARGV[12] '1' when the first ARGV[13] new sets are match keys this record claims: each must hold
--          no other record (a key is claimed by one record of its identity domain)
-- ARGV[13] number of claimed match-key sets (the first of the new sets)
-- Returns the new version; -1 when the record changed meanwhile; -2 when another record took one
-- of the claimed match keys meanwhile (Node re-reads and retries).
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return -1 end
local nOld, nNew = tonumber(ARGV[9]), tonumber(ARGV[10])
local firstNew = 5 + nOld
if ARGV[12] == '1' then
  for i = firstNew, firstNew + tonumber(ARGV[13]) - 1 do
    for _, member in ipairs(redis.call('SMEMBERS', KEYS[i])) do
      if member ~= ARGV[5] then return -2 end
    end
  end
end
if ARGV[4] ~= '' then
  redis.call('ZREM', KEYS[3], ARGV[8])
  for i = 5, 4 + nOld do redis.call('SREM', KEYS[i], ARGV[4]) end
end
local lastNew = firstNew + nNew - 1
if ARGV[11] == '1' then lastNew = lastNew + 1 end
for i = firstNew, lastNew do redis.call('SADD', KEYS[i], ARGV[5]) end
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[8])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[1], 'v', ARGV[2], 't', ARGV[6], 'u', ARGV[7])
return tonumber(ARGV[2])
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
