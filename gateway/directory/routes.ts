import type { Plugin, ResponseObject, ResponseToolkit, Server } from '@hapi/hapi';
import { callerOf, param } from '../http/auth.js';
import { toBase64Url } from '../../protocol/crypto/base64url.js';
import type { ErrorCode } from '../../protocol/errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../core/ports.js';
import { refusalResponse } from '../relay/refusal.js';
import type { DeviceState, Directory, DirectoryResult } from './directory.js';
import type { InclusionProof, LogEntry } from '../../protocol/directory-log.js';

/** A log entry with its position proof against the head served alongside. */
interface ProvenEntry { entry: LogEntry; proof: InclusionProof }

/** A device's current certificate entry and its earlier ones (newest first), each proven. */
interface DeviceView extends ProvenEntry { history: ProvenEntry[] }

/** Registry code per refusal reason (the registry decides the status). */
const CODE: Record<Exclude<DirectoryResult, { ok: true }>['reason'], ErrorCode> = {
  'malformed': 'PSL_BAD_REQUEST', 'sig-key': 'PSL_BAD_REQUEST', 'x25519-key': 'PSL_BAD_REQUEST', 'xwing-key': 'PSL_BAD_REQUEST',
  'capabilities': 'PSL_BAD_REQUEST', 'validity': 'PSL_BAD_REQUEST', 'expired': 'PSL_BAD_REQUEST', 'not-yet-valid': 'PSL_BAD_REQUEST',
  'signature': 'PSL_BAD_REQUEST', 'forbidden': 'PSL_FORBIDDEN', 'unknown-participant': 'PSL_NOT_FOUND', 'unknown-device': 'PSL_NOT_FOUND',
  // An older certificate replayed, a revoked device id registered again: the request is well formed but the log says no.
  'revoked': 'PSL_CONFLICT', 'stale': 'PSL_CONFLICT',
  // Another writer took the log position and the retries ran out.
  'conflict': 'PSL_STORE_UNAVAILABLE',
};

/**
 * Directory routes: device registration and revocation (signed by the identity key), identity
 * rotation (signed by the old and new keys), per-participant views with position proofs (live
 * devices with their earlier certificates, revoked devices with theirs), and the raw log for monitors. Every route needs a bearer token; any participant may read the directory.
 * @param server - hapi server
 * @param deps - directory, store (audit), logger, directory public key
 */
export function registerDirectoryRoutes(server: Server, deps: { directory: Directory; store: Store; log: Logger; directoryKey: Uint8Array }): void {
  const { directory } = deps;
  const answer = async (result: DirectoryResult, action: string, actor: string, h: ResponseToolkit): Promise<ResponseObject> => {
    if (!result.ok) {
      const code = CODE[result.reason];
      deps.log.info({ code, reason: result.reason, action }, 'directory change refused');
      return refusalResponse(h, { code, reason: result.reason });
    }
    await deps.store.appendAudit({ action, actor, subject: String(result.entry.seq), detail: { entry: result.entry.hash } });
    deps.log.info({ seq: result.entry.seq, action }, 'directory entry appended');
    return h.response({ entry: result.entry, proof: directory.proof(result.entry.seq), head: directory.head() }).code(201);
  };

  server.route({
    method: 'POST', path: '/v1/devices',
    options: { payload: { maxBytes: 64 * 1024 } },
    handler: async (request, h) => {
      const caller = callerOf(request).participant;
      return answer(await directory.register(caller, request.payload), 'directory.add-device', caller, h);
    },
  });
  server.route({
    method: 'POST', path: '/v1/devices/{id}/revoke',
    options: { payload: { maxBytes: 4096 } },
    handler: async (request, h) => {
      const caller = callerOf(request).participant;
      return answer(await directory.revoke(caller, param(request, 'id'), request.payload), 'directory.revoke', caller, h);
    },
  });
  server.route({
    method: 'POST', path: '/v1/directory/rotate-identity',
    options: { payload: { maxBytes: 4096 } },
    handler: async (request, h) => {
      const caller = callerOf(request).participant;
      return answer(await directory.rotateIdentity(caller, request.payload), 'directory.rotate-identity', caller, h);
    },
  });
  server.route({
    method: 'GET', path: '/v1/directory/{participant}',
    handler: async (request, h) => {
      await directory.refresh();
      const participant = param(request, 'participant');
      const identity = directory.identityKey(participant);
      if (!identity) return refusalResponse(h, { code: 'PSL_NOT_FOUND', reason: 'unknown-participant' });
      const identityEntry = directory.entries().filter((e) => e.participant === participant && (e.type === 'add-participant' || e.type === 'rotate-identity')).at(-1)!;
      const devices = directory.devicesOf(participant);
      const proven = (e: LogEntry): ProvenEntry => ({ entry: e, proof: directory.proof(e.seq) });
      // Earlier certificates stay listed: mail signed under one before a rotation is still queued
      // for offline recipients, who judge it by that certificate's window at the gateway's receivedAt.
      const certs = (d: DeviceState): DeviceView => ({ ...proven(d.entry), history: d.history.map((h) => proven(h.entry)) });
      return {
        participant,
        identityKey: toBase64Url(identity),
        identity: proven(identityEntry),
        devices: devices.filter((d) => d.revokedAt === undefined).map(certs),
        // A revoked device keeps its certificates: mail the gateway received before the revocation
        // still verifies. revokedAt is the revoke entry's logged time, so a client can prove it.
        revoked: devices.filter((d) => d.revokeEntry).map((d) => ({ ...proven(d.revokeEntry!), deviceId: d.deviceId, revokedAt: d.revokeEntry!.at, device: certs(d) })),
        head: directory.head(),
        directoryKey: toBase64Url(deps.directoryKey),
      };
    },
  });
  server.route({
    method: 'GET', path: '/v1/directory-log',
    handler: async (request) => {
      await directory.refresh();
      const from = Number((request.query as Record<string, unknown>).from ?? 0);
      return { entries: directory.entries(Number.isSafeInteger(from) && from >= 0 ? from : 0), head: directory.head() };
    },
  });
}

/** registerDirectoryRoutes as a hapi plugin (gateway/main.ts registers every HTTP feature from one list). */
export const directoryPlugin: Plugin<Parameters<typeof registerDirectoryRoutes>[1]> = { name: 'passerelle/directory', register: registerDirectoryRoutes };
