import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PasserelleClient } from '../../client/client.js';
import { createLogger } from '../../gateway/log.js';
import { startGateway, type Gateway } from '../../gateway/main.js';
import { enableMessaging, LogSink, mustLoad, writeTestConfig, type TestConfig } from '../helpers/gateway.js';

/** A running gateway with messaging on, and its two registered clients (read receipts off). */
export interface MessagingPair {
  gateway: Gateway;
  cfg: TestConfig;
  /** Temp directory the clients live in; removed at teardown. */
  work: string;
  kine: PasserelleClient;
  mx: PasserelleClient;
  /** Aborted at teardown, before the gateway stops (for follow loops). */
  stopAll: AbortController;
}

/**
 * The physiotherapist (kine-martin, device pc) and the insurer (mutuelle-x, device ingest-a):
 * keys created, identity keys in participants.yaml, gateway started, both devices registered.
 * Everything is stopped and removed at the test's teardown.
 * @param t - owning test
 * @param options - store, the messaging section's extra YAML, each client's X-Wing choice
 */
export async function messagingPair(t: Test, options: {
  store: 'lmdb' | 'redis'; label: string; passphrase: string; messaging: string; kineXwing?: boolean; mxXwing?: boolean;
}): Promise<MessagingPair> {
  const cfg = writeTestConfig({ store: options.store, logLevel: 'warn' });
  const work = mkdtempSync(join(tmpdir(), `psl-e2e-${options.label}-`));
  let gateway: Gateway | undefined;
  const stopAll = new AbortController();
  t.teardown(async () => {
    stopAll.abort();
    await gateway?.stop();
    await cfg.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const client = (dir: string, participant: string, device: string, xwing = true): Promise<PasserelleClient> =>
    PasserelleClient.init({ dir: join(work, dir), participant, device, passphrase: options.passphrase, xwing });
  const kine = await client('kine', 'kine-martin', 'pc', options.kineXwing);
  const mx = await client('mx', 'mutuelle-x', 'ingest-a', options.mxXwing);
  enableMessaging(cfg, { 'kine-martin': kine.keys.header.identityKey, 'mutuelle-x': mx.keys.header.identityKey }, options.messaging);
  gateway = await startGateway(mustLoad(cfg.dir), createLogger({ level: 'warn', destination: new LogSink() }));
  await kine.setGateway(gateway.url, cfg.tokens['kine-martin']);
  await mx.setGateway(gateway.url, cfg.tokens['mutuelle-x']);
  await kine.register();
  await mx.register();
  kine.readReceipts = false;
  mx.readReceipts = false;
  return { gateway, cfg, work, kine, mx, stopAll };
}
