import type { Logger } from 'pino';
import type { RedisConn } from './redis-conn.js';

/**
 * What the admin asked Redis to guarantee for an acknowledged write:
 * - `always`: AOF on with `appendfsync always`; Redis fsyncs before it replies, so nothing
 *   acknowledged is lost on a crash or power cut.
 * - `everysec`: AOF on with `appendfsync everysec` (or always); Redis writes the AOF before it
 *   replies and fsyncs once a second, so a power cut or kernel crash loses up to about 1 s.
 * - `none`: no promise. With AOF off, acknowledged writes live in memory and the last RDB
 *   snapshot, so a Redis restart loses everything since that snapshot; `appendfsync no` leaves the
 *   flush to the OS.
 */
export type Durability = 'always' | 'everysec' | 'none';

/** What the server reported, and whether it meets what was asked. */
export interface DurabilityReport {
  wanted: Durability;
  appendonly: string;
  appendfsync: string;
  satisfied: boolean;
}

/**
 * Reads `CONFIG GET appendonly appendfsync` and warns when the server gives less than `wanted`.
 * Never fails the open: a gateway on a dev Redis without AOF still runs, loudly.
 * @param conn - open connection
 * @param wanted - configured durability
 * @param log - where the warning goes (settings and codes only)
 */
export async function checkDurability(conn: RedisConn, wanted: Durability, log?: Logger): Promise<DurabilityReport> {
  let config: Record<string, unknown>;
  try {
    config = await conn.configGet(['appendonly', 'appendfsync']);
  } catch (err) {
    // Managed Redis often renames or disables CONFIG; the guarantee is then the provider's.
    log?.warn({ wanted, code: 'PSL_CONFIG_INVALID', err: { name: (err as Error).name } }, 'redis durability unknown: CONFIG GET refused');
    return { wanted, appendonly: 'unknown', appendfsync: 'unknown', satisfied: false };
  }
  const appendonly = String(config.appendonly ?? 'unknown');
  const appendfsync = String(config.appendfsync ?? 'unknown');
  const satisfied = meets(wanted, appendonly === 'yes', appendfsync);
  if (!satisfied) {
    log?.warn({ wanted, appendonly, appendfsync, code: 'PSL_CONFIG_INVALID' }, 'redis durability below configured');
  }
  return { wanted, appendonly, appendfsync, satisfied };
}

function meets(wanted: Durability, aof: boolean, fsync: string): boolean {
  switch (wanted) {
    case 'always':
      return aof && fsync === 'always';
    case 'everysec':
      return aof && (fsync === 'always' || fsync === 'everysec');
    case 'none':
      return true;
    default:
      return wanted satisfies never;
  }
}
