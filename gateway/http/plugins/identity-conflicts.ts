import type { Plugin, Server } from '@hapi/hapi';
import type { Store } from '../../core/ports.js';
import { GatewayError } from '../../../protocol/errors.js';
import { callerOf } from '../auth.js';
import { applyIdentityLink } from '../../pipeline/identity-link.js';

const STATUSES = ['open', 'linked', 'kept-separate'] as const;
const RESOLUTIONS = ['linked', 'kept-separate'] as const;
const CONFLICT_ID = /^idc_[0-9A-Za-z]{1,40}$/;

/**
 * Identity conflicts for admins: the list, and the decision on one (`linked`: the records are the
 * same entity, and identity-link.ts merges them; `kept-separate`: they are not, nothing changes). Each decision is an audit entry naming the admin.
 * Conflicts hold ids and codes only, so listing them discloses no patient data.
 */
export function registerIdentityConflictRoutes(server: Server, options: { store: Store }): void {
  const requireAdmin = (caller: { kind: string }): void => {
    if (caller.kind !== 'admin') throw new GatewayError('PSL_FORBIDDEN', 'identity conflicts need the admin role');
  };
  server.route({
    method: 'GET', path: '/v1/admin/identity-conflicts',
    handler: async (request) => {
      requireAdmin(callerOf(request));
      const status = request.query.status;
      if (status !== undefined && !STATUSES.includes(status as (typeof STATUSES)[number])) {
        throw new GatewayError('PSL_BAD_REQUEST', 'status must be open, linked or kept-separate');
      }
      const conflicts = await options.store.identityConflicts(status === undefined ? {} : { status: status as (typeof STATUSES)[number] });
      return { total: conflicts.length, conflicts };
    },
  });
  server.route({
    method: 'POST', path: '/v1/admin/identity-conflicts/{id}/resolve',
    handler: async (request) => {
      const caller = callerOf(request);
      requireAdmin(caller);
      const id = String(request.params.id ?? '');
      if (!CONFLICT_ID.test(id)) throw new GatewayError('PSL_BAD_REQUEST', 'id is not an identity conflict id');
      const payload = request.payload as { resolution?: unknown } | null;
      const resolution = payload?.resolution;
      if (!RESOLUTIONS.includes(resolution as (typeof RESOLUTIONS)[number])) {
        throw new GatewayError('PSL_BAD_REQUEST', 'resolution must be linked or kept-separate');
      }
      const open = (await options.store.identityConflicts()).find((c) => c.id === id);
      if (open === undefined) throw new GatewayError('PSL_NOT_FOUND', 'no such identity conflict');
      if (open.status !== 'open') throw new GatewayError('PSL_BAD_REQUEST', 'the identity conflict is already resolved');
      // Records first, then the decision: a crash in between leaves the conflict open, and linking
      // it again writes nothing new (both records already say what the first attempt wrote).
      const linked = resolution === 'linked' ? await applyIdentityLink(options.store, open) : undefined;
      const resolved = await options.store.resolveIdentityConflict(id, { status: resolution as (typeof RESOLUTIONS)[number], by: caller.participant });
      if (resolved === undefined) throw new GatewayError('PSL_NOT_FOUND', 'no such identity conflict');
      await options.store.appendAudit({
        action: 'identity-conflict.resolve', actor: caller.participant, subject: id,
        detail: {
          resolution: resolved.status, recordId: resolved.recordId, existing: resolved.existingIds.join(','), rawId: resolved.rawId,
          ...(linked ? { survivorVersion: linked.version } : {}),
        },
      });
      return linked ? { ...resolved, survivor: linked } : resolved;
    },
  });
}

/** registerIdentityConflictRoutes as a hapi plugin (gateway/main.ts registers every HTTP feature from one list). */
export const identityConflictsPlugin: Plugin<{ store: Store }> = { name: 'passerelle/identity-conflicts', register: registerIdentityConflictRoutes };
