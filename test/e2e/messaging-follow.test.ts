/**
 * `follow` across a gateway restart: the insurer's follower receives a first message, loses the
 * connection when the gateway stops, keeps retrying with backoff, reconnects when the gateway is
 * back on the same address, and receives what was sent meanwhile, exactly once.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PasserelleClient } from '../../client/client.js';
import { follow, type FollowEvent } from '../../client/follow.js';
import { createLogger } from '../../gateway/log.js';
import { startGateway, type Gateway } from '../../gateway/main.js';
import { enableMessaging, LogSink, mustLoad, writeTestConfig } from '../helpers/gateway.js';

const PASS = 'follow test passphrase';

t.test('follow reconnects after a gateway restart and receives what was sent meanwhile', async (t) => {
  const cfg = writeTestConfig({ store: 'lmdb', logLevel: 'warn' });
  const work = mkdtempSync(join(tmpdir(), 'psl-e2e-follow-'));
  let gateway: Gateway | undefined;
  const stopAll = new AbortController();
  t.teardown(async () => {
    stopAll.abort();
    await gateway?.stop();
    await cfg.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const kine = await PasserelleClient.init({ dir: join(work, 'kine'), participant: 'kine-martin', device: 'pc', passphrase: PASS });
  const mx = await PasserelleClient.init({ dir: join(work, 'mx'), participant: 'mutuelle-x', device: 'ingest-a', passphrase: PASS });
  const keyOf: Record<string, string> = { 'kine-martin': kine.keys.header.identityKey, 'mutuelle-x': mx.keys.header.identityKey };
  const gwYaml = join(cfg.dir, 'gateway.yaml');
  enableMessaging(cfg, keyOf, '  policy:\n    - { from: [professional], to: [insurer], both: true }\n');
  const start = (): Promise<Gateway> => startGateway(mustLoad(cfg.dir), createLogger({ level: 'warn', destination: new LogSink() }));
  gateway = await start();
  const port = new URL(gateway.url).port;
  await kine.setGateway(gateway.url, cfg.tokens['kine-martin']);
  await mx.setGateway(gateway.url, cfg.tokens['mutuelle-x']);
  await kine.register();
  await mx.register();
  mx.readReceipts = false;

  const events: FollowEvent[] = [];
  const waiters: Array<{ test: (e: FollowEvent) => boolean; resolve: () => void }> = [];
  const waitFor = (test: (e: FollowEvent) => boolean): Promise<void> => new Promise((resolve) => {
    if (events.some(test)) resolve();
    else waiters.push({ test, resolve });
  });
  const following = follow(mx, {
    count: 2, signal: AbortSignal.any([stopAll.signal, AbortSignal.timeout(90_000)]), maxBackoffMs: 1000,
    onEvent: (e) => {
      events.push(e);
      for (const w of waiters.filter((x) => x.test(e))) w.resolve();
    },
  });
  const received = (text: string) => (e: FollowEvent): boolean => e.kind === 'outcome' && e.outcome.kind === 'stored' && e.outcome.message.text === text;

  await waitFor((e) => e.kind === 'connected');
  await kine.send({ to: ['mutuelle-x'], text: 'before the restart' });
  await waitFor(received('before the restart'));

  await gateway.stop();
  gateway = undefined;
  await waitFor((e) => e.kind === 'disconnected');
  // Back on the same address, as an operator's restart would be.
  writeFileSync(gwYaml, readFileSync(gwYaml, 'utf8').replace(/port: 0/, `port: ${port}`));
  gateway = await start();
  await kine.send({ to: ['mutuelle-x'], text: 'while the follower was away' });

  t.equal(await following, 2, 'two deliveries handled, then follow returned');
  t.ok(events.some(received('before the restart')));
  t.ok(events.some(received('while the follower was away')), 'received after reconnecting');
  t.ok(events.filter((e) => e.kind === 'connected').length >= 2, 'connected again');
  t.same(events.filter((e) => e.kind === 'outcome' && e.outcome.kind !== 'stored'), [], 'no refusal, no duplicate');
  t.equal((await mx.store.list()).filter((m) => m.direction === 'in').length, 2);
});
