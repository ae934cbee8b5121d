/**
 * Composition of secure messaging (key directory + relay), called by main.ts when gateway.yaml has
 * a `messaging` section. Refuses to start when a configured identity key changed without a signed
 * rotation entry (the problem names the file, line and path, never the keys).
 */
import type { Server as HttpServer } from 'node:http';
import type { Config } from '../config/schema.js';
import type { Store } from '../core/ports.js';
import { toBase64Url } from '../../protocol/crypto/base64url.js';
import { Directory } from '../directory/directory.js';
import { loadGatewayKey } from '../directory/gateway-keys.js';
import { assertIdentities } from '../directory/identity-check.js';
import { directoryPlugin } from '../directory/routes.js';
import { feature, type HttpFeature } from '../http/server.js';
import { TokenTable } from '../http/auth.js';
import type { Logger } from '../log.js';
import { BlobStore } from './blobs.js';
import { MessagingPolicy } from './policy.js';
import { SenderQuota } from './quota.js';
import type { RelayStore } from '../core/relay-store.js';
import { Relay } from './relay.js';
import { relayPlugin } from './routes.js';
import { WsRelay } from './ws-relay.js';

/** The running messaging part of the gateway. */
export interface Messaging {
  readonly directory: Directory;
  readonly relay: Relay;
  readonly ws: WsRelay;
  readonly relayStore: RelayStore;
  readonly blobs: BlobStore;
  /** The directory's and the relay's HTTP routes (gateway/main.ts registers them with the others). */
  readonly httpFeatures: readonly HttpFeature[];
  /** Handle ws upgrades on hapi's listener. */
  attach(listener: HttpServer): void;
  close(): Promise<void>;
}


/**
 * Build directory and relay, or undefined when messaging is not configured.
 * @param config - validated config
 * @param store - the gateway's Store (queues, audit)
 * @param log - root logger
 * @throws GatewayError PSL_CONFIG_INVALID when identity keys disagree with the directory log
 */
export async function createMessaging(config: Config, store: Store, log: Logger): Promise<Messaging | undefined> {
  const m = config.gateway.messaging;
  if (!m) return undefined;
  const relayStore: RelayStore = await store.openRelayStore();
  try {
    const directoryKey = await loadGatewayKey(m.directoryKey, config.dir, 'directoryKey', log);
    const serviceKey = await loadGatewayKey(m.serviceKey, config.dir, 'serviceKey', log);
    const { directory, mismatches } = await Directory.open({ store: relayStore, directoryKey, participants: config.participants });
    assertIdentities(config.dir, mismatches);
    const blobs = new BlobStore({ dir: m.blobDir, store: relayStore, maxBytes: m.limits.maxBlobBytes });
    const relayLog = log.child({ component: 'relay' });
    const relay = await Relay.create({
      store, relayStore, directory, blobs, serviceKey,
      policy: new MessagingPolicy(config.participants, m.policy),
      quota: new SenderQuota(m.limits),
      suites: m.suites,
      limits: m.limits,
      log: relayLog,
    });
    const ws = new WsRelay({
      relay, tokens: new TokenTable(config.participants), log: log.child({ component: 'ws' }),
      maxPayload: m.limits.maxEnvelopeBytes + 1024, heartbeatMs: m.limits.heartbeatMs, highWaterBytes: m.limits.wsHighWaterBytes,
    });
    return {
      directory, relay, ws, relayStore, blobs,
      httpFeatures: [
        feature(directoryPlugin, { directory, store, log: log.child({ component: 'directory' }), directoryKey: directoryKey.publicKey }),
        feature(relayPlugin, {
          relay, blobs, log: relayLog, maxEnvelopeBytes: m.limits.maxEnvelopeBytes, maxBlobBytes: m.limits.maxBlobBytes,
          publicInfo: {
            directoryKey: toBase64Url(directoryKey.publicKey), serviceKey: toBase64Url(serviceKey.publicKey),
            suites: m.suites, maxEnvelopeBytes: m.limits.maxEnvelopeBytes, maxBlobBytes: m.limits.maxBlobBytes,
          },
        }),
      ],
      attach(listener) {
        ws.attach(listener);
      },
      async close() {
        await ws.close();
        await relayStore.close();
      },
    };
  } catch (err) {
    await relayStore.close();
    throw err;
  }
}
