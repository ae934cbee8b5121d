/**
 * What the CLI prints: short, readable lines for a person (who sent what, when, verified or not,
 * where attachments went), or one JSON object per line with `--json` for scripts.
 */
import type { Verification } from './verification.js';
import type { FollowEvent } from './follow.js';
import type { StoredMessage } from './message-store.js';
import type { ReceiveOutcome } from './receive.js';

const TRUST: Readonly<Record<StoredMessage['senderTrust'], string>> = {
  new: 'identity key seen for the first time: compare safety numbers (passerelle-client verify)',
  known: 'identity key as pinned',
  confirmed: 'safety number confirmed',
};

function when(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** A stored message as lines of text. */
export function messageText(m: StoredMessage): string {
  const head = m.class === 'receipt'
    ? `read receipt from ${m.from.participant} (${m.from.device}) for message ${m.ref ?? '?'}`
    : `${m.direction === 'in' ? 'message from' : 'message sent by'} ${m.from.participant} (${m.from.device}) to ${m.to.join(', ')}`;
  const lines = [
    `== ${head}`,
    `   ${m.verified ? 'verified' : 'NOT VERIFIED'}: sender signature and device certificate checked; ${TRUST[m.senderTrust]}`,
    `   sent ${when(m.ts)}, received by the gateway ${when(m.receivedAt)}${m.gatewayReceipt === 'verified' ? ' (signed receipt)' : m.gatewayReceipt === 'unverified' ? ' (receipt not verified)' : ''}; id ${m.id}`,
  ];
  if (m.class !== 'receipt') {
    lines.push(`   type ${m.type}${m.subject !== undefined ? `; subject: ${m.subject}` : ''}`);
    if (m.replyTo) lines.push(`   in reply to ${m.replyTo}`);
    if (m.text !== undefined) lines.push(...m.text.split('\n').map((l) => `   | ${l}`));
    const res = (m.body as { resource?: { resourceType?: unknown; id?: unknown; use?: unknown } } | undefined)?.resource;
    if (res) lines.push(`   FHIR ${String(res.resourceType)}${res.use ? ` (${String(res.use)})` : ''}${res.id ? ` id ${String(res.id)}` : ''}`);
    for (const a of m.attachments) {
      lines.push(a.savedAs !== undefined
        ? `   attachment ${a.name} (${a.mime}, ${a.bytes ?? 0} bytes) saved to ${a.savedAs}`
        : a.error !== undefined ? `   attachment ${a.name} REFUSED: ${a.error}` : `   attachment ${a.name} (${a.mime})`);
    }
    for (const r of m.readBy ?? []) lines.push(`   read by ${r.participant} (${r.device}) at ${when(r.at)}`);
    for (const r of m.rejectedBy ?? []) lines.push(`   REJECTED by ${r.participant} (${r.device}) at ${when(r.at)}: ${r.reason}`);
  }
  return lines.join('\n');
}

/** A receive outcome as text. */
export function outcomeText(o: ReceiveOutcome): string {
  switch (o.kind) {
    case 'stored':
      return o.warning === undefined ? messageText(o.message) : `${messageText(o.message)}\n   warning: ${o.warning}`;
    case 'held':
      return `!! held envelope ${o.id} from ${o.from}: their identity key changed; not acknowledged, it stays at the gateway.\n`
        + `   Compare safety numbers, then: passerelle-client verify ${o.from} --accept-new-key`;
    case 'duplicate':
      return `(already stored: ${o.id}; acknowledged again)`;
    case 'refused':
      return `!! refused envelope ${o.id} from ${o.from}: ${o.reason} (not stored${o.rejected === undefined ? '' : `; rejected as ${o.rejected}, which its sender sees`})`;
    default:
      return o satisfies never;
  }
}

/** A follow event as text (undefined: nothing to print). */
export function followText(e: FollowEvent): string | undefined {
  switch (e.kind) {
    case 'connected':
      return '-- connected, waiting for messages (Ctrl-C to stop)';
    case 'disconnected':
      return `-- connection closed (${e.code}); reconnecting in ${Math.round(e.retryInMs / 1000)} s`;
    case 'outcome':
      return outcomeText(e.outcome);
    case 'delivered':
      return `-- gateway: ${e.id} delivered to ${e.participant} (${e.device}) at ${when(e.at)}${e.verified ? ' (signed receipt verified)' : ' (receipt NOT verified)'}`;
    case 'rejected':
      return `!! ${e.id} REJECTED by ${e.participant} (${e.device}): ${e.reason}${e.verified ? ' (signed by that device, verified)' : ' (rejection NOT verified)'}`;
    case 'error':
      return `-- error ${e.code}: ${e.reason}`;
    default:
      return e satisfies never;
  }
}

/** JSON for scripts: outcomes carry the stored message. */
export function outcomeJson(o: ReceiveOutcome): Record<string, unknown> {
  return o.kind === 'stored' ? { kind: 'message', ...o.message, ...(o.warning !== undefined ? { warning: o.warning } : {}) } : { ...o };
}

/** Safety number display. */
export function verificationText(v: Verification, own: { participant: string }): string {
  return [
    `Safety number for ${own.participant} <-> ${v.participant}:`,
    '',
    `    ${v.safetyNumber.split(' ').slice(0, 6).join(' ')}`,
    `    ${v.safetyNumber.split(' ').slice(6).join(' ')}`,
    '',
    `Compare it with ${v.participant} in person or over a channel you already trust (phone, CPS-signed mail).`,
    `If it matches, run: passerelle-client verify ${v.participant} --confirm`,
    `Status: ${TRUST[v.trust]}; directory entries ${v.proven ? 'proven in the log head signed by the pinned directory key' : 'NOT proven (no directory key pinned)'}`,
    `Identity fingerprints: yours ${v.ownFingerprint}; theirs ${v.peerFingerprint}`,
    ...v.devices.map((d) => `  device ${d.device}: signing kid ${d.sigKid}, encryption kid ${d.encKid}, valid until ${when(d.notAfter)}${d.revoked ? ' (REVOKED)' : ''}`),
  ].join('\n');
}
