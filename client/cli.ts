/**
 * `passerelle-client`: the command line over PasserelleClient. Every command returns an exit code
 * from `main(argv)` (0 ok, 1 refused or failed, 2 usage), so tests drive it in-process.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isGatewayError } from '../protocol/errors.js';
import { PasserelleClient } from './client.js';
import { followText, messageText, outcomeJson, outcomeText, verificationText } from './cli-format.js';
import { follow } from './follow.js';
import { readPassphrase } from './passphrase.js';

const USAGE = `usage: passerelle-client <command> [options]

  init --participant <id> --device <id>       create keys (identity + device) in the client directory
       [--identity-from <dir>]                a further device sharing the identity of the one in <dir>
  register --gateway <url> --token <t|env:NAME> publish this device's certificate to the gateway
  send --to <participant> [--to …] [--text …] [--subject …] [--fhir resource.json] [--file path …]
  inbox [--all]                               fetch waiting messages over HTTP (--all: list stored ones too)
  follow [--count n]                          stay connected over WebSocket and receive as messages arrive
  verify [participant] [--confirm | --accept-new-key]   safety number and key fingerprints
  rotate                                      new device keys (signing + encryption), registered; old decryption keys kept 30 days

common options:
  --dir <path>              client directory (default ~/.passerelle, or $PASSERELLE_DIR)
  --passphrase-file <path>  key-file passphrase (else $PASSERELLE_PASSPHRASE, else a prompt on a TTY)
  --json                    machine-readable output, one JSON object per line
  --no-xwing                (init) no X-Wing key: classic suite only
  --no-read-receipts        (inbox, follow) do not send read receipts`;

/** Options that take a value. */
const STRING_OPTIONS: ReadonlySet<string> = new Set([
  'dir', 'passphrase-file', 'identity-from', 'participant', 'device', 'gateway', 'token', 'to', 'file', 'fhir',
  'text', 'subject', 'type', 'reply-to', 'thread', 'count',
]);

/**
 * `--opt value` becomes `--opt=value` for options that take a value, because ids and tokens are
 * base64url and may start with '-', which parseArgs would otherwise read as the next option.
 * @param argv - the command line after the program name
 * @param stringOptions - option names that take a value
 */
export function joinValues(argv: readonly string[], stringOptions: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = argv[i + 1];
    if (arg.startsWith('--') && !arg.includes('=') && stringOptions.has(arg.slice(2)) && value !== undefined) {
      out.push(`${arg}=${value}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Where output goes (tests pass their own). */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly signal?: AbortSignal;
}

/**
 * Entry point of the `passerelle-client` bin.
 * @param argv - arguments after the program name
 * @param io - streams and environment (default: the process's)
 * @returns the exit code
 */
export async function main(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinValues(argv, STRING_OPTIONS), allowPositionals: true, allowNegative: true,
      options: {
        dir: { type: 'string' }, 'passphrase-file': { type: 'string' }, json: { type: 'boolean', default: false }, 'identity-from': { type: 'string' },
        participant: { type: 'string' }, device: { type: 'string' }, xwing: { type: 'boolean', default: true },
        gateway: { type: 'string' }, token: { type: 'string' },
        to: { type: 'string', multiple: true }, file: { type: 'string', multiple: true }, fhir: { type: 'string' },
        text: { type: 'string' }, subject: { type: 'string' }, type: { type: 'string' }, 'reply-to': { type: 'string' }, thread: { type: 'string' },
        all: { type: 'boolean', default: false }, count: { type: 'string' }, 'read-receipts': { type: 'boolean', default: true },
        confirm: { type: 'boolean', default: false }, 'accept-new-key': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const command = positionals[0];
  if (v.help || command === undefined) {
    io.stdout.write(`${USAGE}\n`);
    return command === undefined && !v.help ? 2 : 0;
  }
  const dir = resolve(v.dir ?? io.env.PASSERELLE_DIR ?? join(homedir(), '.passerelle'));
  const out = (text: string, json: unknown): void => {
    io.stdout.write(v.json ? `${JSON.stringify(json)}\n` : `${text}\n`);
  };
  const passphrase = (confirm = false): Promise<string> => readPassphrase({ file: v['passphrase-file'], env: io.env, confirm, stderr: io.stderr });
  const openClient = async (): Promise<PasserelleClient> => {
    const c = await PasserelleClient.open({ dir, passphrase: await passphrase() });
    c.readReceipts = v['read-receipts'];
    const left = c.certificateTimeLeft();
    if (left !== undefined && left < 3 * 24 * 3600 * 1000 && command !== 'rotate') {
      io.stderr.write(left <= 0
        ? 'warning: this device\'s keys have expired; nobody can send to it: run `passerelle-client rotate`\n'
        : `warning: this device's keys expire in ${Math.ceil(left / 3600_000)} h: run \`passerelle-client rotate\`\n`);
    }
    return c;
  };

  try {
    switch (command) {
      case 'init': {
        if (!v.participant || !v.device) return usage(io, 'init needs --participant and --device');
        const pass = await passphrase(v['identity-from'] === undefined);
        // Another device of the same participant: share its identity key (same passphrase source).
        const from = v['identity-from'] === undefined ? undefined : await PasserelleClient.open({ dir: resolve(v['identity-from']), passphrase: pass });
        const c = await PasserelleClient.init({ dir, participant: v.participant, device: v.device, passphrase: pass, xwing: v.xwing, ...(from ? { identityFrom: from } : {}) });
        if (from) {
          out(`Created ${PasserelleClient.keyFilePath(dir)} (mode 0600): device ${c.device} of ${c.participant}, sharing the identity key of ${from.device}.\nNext: passerelle-client register --gateway <url> --token <token> --dir ${dir}`,
            { participant: c.participant, device: c.device, keyFile: PasserelleClient.keyFilePath(dir), identityKey: c.keys.header.identityKey, sharedFrom: from.device });
          return 0;
        }
        const kdf = c.keys.header.kdf;
        out([
          `Created ${PasserelleClient.keyFilePath(dir)} (mode 0600) for ${c.participant}, device ${c.device}.`,
          `Keys: Ed25519 identity, Ed25519 device signing, X25519${c.keys.secrets.device.xwing ? ' and X-Wing' : ''} encryption; sealed with XChaCha20-Poly1305 under ${kdf.alg}.`,
          '',
          `Send this line to your gateway administrator; it goes under participant "${c.participant}" in participants.yaml:`,
          '',
          `    ${c.adminLine}`,
          '',
          'Once it is in place: passerelle-client register --gateway <url> --token <token>',
        ].join('\n'), { participant: c.participant, device: c.device, keyFile: PasserelleClient.keyFilePath(dir), identityKey: c.keys.header.identityKey, adminLine: c.adminLine, kdf: kdf.alg });
        return 0;
      }
      case 'register': {
        if (!v.gateway || !v.token) return usage(io, 'register needs --gateway and --token');
        const c = await openClient();
        await c.setGateway(v.gateway, v.token);
        const r = await c.register();
        out(`Registered device ${c.device} of ${c.participant} at ${v.gateway}; its keys are valid until ${new Date(r.notAfter).toISOString()} (run \`rotate\` before then).`,
          { participant: c.participant, device: c.device, notBefore: r.notBefore, notAfter: r.notAfter });
        return 0;
      }
      case 'send': {
        const c = await openClient();
        const fhir = v.fhir === undefined ? undefined : JSON.parse(readFileSync(v.fhir, 'utf8')) as Record<string, unknown>;
        const sent = await c.send({
          to: v.to ?? [], ...(v.text !== undefined ? { text: v.text } : {}), ...(v.subject !== undefined ? { subject: v.subject } : {}),
          ...(fhir ? { fhir } : {}), files: (v.file ?? []).map((path) => ({ path })), ...(v.type !== undefined ? { type: v.type } : {}),
          ...(v['reply-to'] !== undefined ? { replyTo: v['reply-to'] } : {}), ...(v.thread !== undefined ? { thread: v.thread } : {}),
        });
        const receipt = (sent.accepted.receipt ?? {}) as Record<string, unknown>;
        out([
          `Sent ${sent.id} to ${(v.to ?? []).join(', ')} (${sent.envelope.suite.startsWith('xwing') ? 'X-Wing hybrid' : 'X25519'} encryption, ${sent.envelope.to.length} device(s)).`,
          ...sent.attachments.map((a) => `  attachment ${a.name} (${a.mime}) uploaded encrypted as ${a.ref}`),
          `Gateway accepted it${typeof receipt.receivedAt === 'number' ? ` at ${new Date(receipt.receivedAt).toISOString()}` : ''}`
            + (sent.acceptedVerified ? ' (signed receipt verified).' : ' (receipt NOT verified against the pinned gateway key).'),
        ].join('\n'), { id: sent.id, envelopeHash: sent.envelopeHash, suite: sent.envelope.suite, attachments: sent.attachments, accepted: sent.accepted, acceptedVerified: sent.acceptedVerified });
        return 0;
      }
      case 'inbox': {
        const c = await openClient();
        const outcomes = await c.pullInbox();
        for (const o of outcomes) out(outcomeText(o), outcomeJson(o));
        if (outcomes.length === 0 && !v.json) io.stdout.write('No new messages.\n');
        if (v.all) for (const m of await c.store.list()) out(messageText(m), { kind: 'stored', ...m });
        return outcomes.some((o) => o.kind === 'refused' || o.kind === 'held') ? 1 : 0;
      }
      case 'follow': {
        const c = await openClient();
        const count = v.count === undefined ? undefined : Number(v.count);
        if (count !== undefined && (!Number.isSafeInteger(count) || count < 1)) return usage(io, '--count must be a positive integer');
        const ctl = new AbortController();
        const onSig = (): void => ctl.abort();
        process.once('SIGINT', onSig);
        io.signal?.addEventListener('abort', onSig, { once: true });
        try {
          await follow(c, {
            signal: ctl.signal, ...(count !== undefined ? { count } : {}),
            onEvent: (e) => {
              const text = followText(e);
              if (v.json) io.stdout.write(`${JSON.stringify(e.kind === 'outcome' ? outcomeJson(e.outcome) : e)}\n`);
              else if (text !== undefined) io.stdout.write(`${text}\n`);
            },
          });
        } finally {
          process.off('SIGINT', onSig);
        }
        return 0;
      }
      case 'verify': {
        const c = await openClient();
        const peer = positionals[1];
        if (peer === undefined) {
          out([`${c.participant}, device ${c.device}`, `identity key: ${c.keys.header.identityKey}`, c.adminLine].join('\n'),
            { participant: c.participant, device: c.device, identityKey: c.keys.header.identityKey });
          return 0;
        }
        if (v['accept-new-key']) await c.acceptNewKey(peer);
        if (v.confirm) await c.confirmPeer(peer);
        const ver = await c.verify(peer);
        out(verificationText(ver, c), ver);
        return 0;
      }
      case 'rotate': {
        const c = await openClient();
        const r = await c.rotate();
        out(`New signing and encryption keys for ${c.device} registered, valid until ${new Date(r.notAfter).toISOString()}; previous keys kept 30 days for mail already on its way, then deleted.`, { notAfter: r.notAfter });
        return 0;
      }
      default:
        return usage(io, `unknown command ${command}`);
    }
  } catch (err) {
    const code = isGatewayError(err) ? err.code : (err as NodeJS.ErrnoException).code ?? 'ERROR';
    io.stderr.write(`passerelle-client ${command}: ${(err as Error).message} [${code}]\n`);
    return 1;
  }
}

function usage(io: CliIo, message: string): number {
  io.stderr.write(`${message}\n\n${USAGE}\n`);
  return 2;
}
