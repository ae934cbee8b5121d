import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';

export const REDIS_URL = process.env.PASSERELLE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of this test file's own (tap runs files in parallel; no shared FLUSHDB). */
export function testPrefix(label: string): string {
  return `test:${label}:${process.pid}:${randomUUID()}:`;
}

/** SCAN + DEL every key under prefix. */
export async function cleanPrefix(prefix: string): Promise<number> {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  let removed = 0;
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) removed += await client.del(keys);
    }
  } finally {
    await client.quit();
  }
  return removed;
}
