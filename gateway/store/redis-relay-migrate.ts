import { RESP_TYPES } from 'redis';
import { GatewayError } from '../../protocol/errors.js';
import type { RedisConn } from './redis-conn.js';
import type { RelaySealer } from './relay-seal.js';

const AS_BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;
/** A key already in the sealed layout: kind, then a 64-hex keyed hash (relay-seal.ts). */
const SEALED_KEY = /^(?:[a-z]+:)?[0-9a-f]{64}$/;

const glob = (s: string): string => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/**
 * Bring a relay prefix written before relay metadata was sealed (layout 1: plain values, ids in
 * keys) to the sealed layout, then mark it with `<prefix>format`. Each key moves in one MULTI
 * (sealed copy under its hashed key, old key deleted), so a migration cut short is finished by
 * the next open: keys already in the sealed shape are skipped. Run it with the gateways of this
 * prefix stopped; an old-version process writing meanwhile would write layout-1 keys again.
 * @returns how many keys were moved
 * Also checks that the data key is the one the prefix was sealed with (RelaySealer.keyCheck).
 * @throws GatewayError PSL_STORE_CORRUPT when the prefix has a newer layout than `format`, or
 *   was sealed with another data key
 */
export async function migrateRelayKeys(conn: RedisConn, prefix: string, sealer: RelaySealer, format: number): Promise<number> {
  const formatKey = `${prefix}format`;
  const checkKey = `${prefix}key-check`;
  const current = await conn.get(formatKey);
  if (current === String(format)) {
    const check = await conn.sendCommand<Buffer | null>(['GET', checkKey], { typeMapping: AS_BUFFERS });
    if (check === null) await conn.sendCommand(['SET', checkKey, Buffer.from(sealer.keyCheck()), 'NX']);
    else sealer.assertKeyCheck(check, prefix);
    return 0;
  }
  if (current !== null) {
    throw new GatewayError('PSL_STORE_CORRUPT',
      `relay keys under ${prefix} have layout ${current}; this gateway reads layout ${format}: run the version that wrote them`);
  }
  let moved = 0;
  for await (const batch of conn.scanIterator({ MATCH: `${glob(prefix)}*`, COUNT: 500 })) {
    for (const key of batch) {
      const logical = key.slice(prefix.length);
      if (key === formatKey || key === checkKey || SEALED_KEY.test(logical)) continue;
      if (await moveKey(conn, prefix, key, logical, sealer)) moved++;
    }
  }
  await conn.sendCommand(['SET', checkKey, Buffer.from(sealer.keyCheck()), 'NX']);
  await conn.set(formatKey, String(format));
  return moved;
}

async function moveKey(conn: RedisConn, prefix: string, key: string, logical: string, sealer: RelaySealer): Promise<boolean> {
  const type = await conn.type(key);
  const expireAt = await conn.pExpireTime(key);
  const m = conn.multi();
  if (type === 'string') {
    const value = await conn.sendCommand<Buffer | null>(['GET', key], { typeMapping: AS_BUFFERS });
    if (value === null) return false;
    const k = sealer.key(logical);
    m.addCommand(['SET', `${prefix}${k}`, Buffer.from(sealer.seal(k, value)), ...(expireAt > 0 ? ['PXAT', String(expireAt)] : [])]);
  } else if (type === 'list') {
    const items = await conn.sendCommand<Buffer[]>(['LRANGE', key, '0', '-1'], { typeMapping: AS_BUFFERS });
    const isLog = logical.startsWith('log:');
    const k = isLog ? sealer.logKey(logical.slice('log:'.length)) : sealer.key(logical);
    const sealed = items.map((b, i) => Buffer.from(isLog ? sealer.sealEntry(k, i, b) : sealer.seal(k, b)));
    m.addCommand(['DEL', `${prefix}${k}`]);
    if (sealed.length > 0) m.addCommand(['RPUSH', `${prefix}${k}`, ...sealed]);
    if (expireAt > 0) m.addCommand(['PEXPIREAT', `${prefix}${k}`, String(expireAt)]);
  } else {
    // The relay writes strings and lists only; anything else under the prefix is not ours to move.
    return false;
  }
  m.addCommand(['DEL', key]);
  await m.exec();
  return true;
}
