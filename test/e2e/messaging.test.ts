/**
 * End to end, as new users would do it: a physiotherapist (kine-martin) and an insurer's case
 * manager (mutuelle-x) each `init` and `register` with the passerelle-client CLI; the
 * physiotherapist sends a prior-authorisation request (FHIR Claim, text, a PDF) while the insurer
 * is offline; the insurer receives it on reconnect over WebSocket, both see verified senders, the
 * reply and a read receipt come back over the HTTP inbox, both compute the same safety number; and
 * the gateway's stores, blob directory and logs hold none of the plaintext.
 */
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../client/cli.js';
import { createLogger } from '../../gateway/log.js';
import { startGateway, type Gateway } from '../../gateway/main.js';
import { enableMessaging, LogSink, mustLoad, writeTestConfig } from '../helpers/gateway.js';

// Plaintext markers: none may appear anywhere on the gateway side.
const M = {
  subject: 'SUBJ-accord-prealable-genou-4e1b',
  text: 'TEXT-reeducation-LCA-20-seances-9c2d',
  patient: 'PATIENT-Durand-Helene-7f3a',
  pdf: 'PDFBODY-compte-rendu-IRM-b81e',
  fileName: 'cr-irm-durand-5a6c.pdf',
  reply: 'REPLY-accord-15-seances-d04f',
} as const;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string; json: Array<Record<string, unknown>> }> {
  const stdout = new Capture();
  const stderr = new Capture();
  // A follow that never gets its message stops after a minute, so the test fails with the output.
  const code = await main(args, { stdout, stderr, env, signal: AbortSignal.timeout(60_000) });
  const json = args.includes('--json') ? stdout.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  return { code, out: stdout.text, err: stderr.text, json };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** A small but well-formed-looking PDF carrying a marker. */
function makePdf(): Buffer {
  const body = `%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% ${M.pdf}\n`;
  // Past one 64 KiB secretstream chunk, so the attachment has several chunks.
  return Buffer.concat([Buffer.from(body), Buffer.alloc(70_000, 0x20), Buffer.from('\n%%EOF\n')]);
}

t.test('physiotherapist and insurer exchange a prior-authorisation request end to end', async (t) => {
  const cfg = writeTestConfig({ store: 'lmdb', logLevel: 'debug' });
  const work = mkdtempSync(join(tmpdir(), 'psl-e2e-clients-'));
  let gateway: Gateway | undefined;
  t.teardown(async () => {
    await gateway?.stop();
    await cfg.cleanup();
    rmSync(work, { recursive: true, force: true });
  });
  const pass = join(work, 'pass');
  writeFileSync(pass, 'une phrase de passe assez longue\n', { mode: 0o600 });
  const kine = ['--dir', join(work, 'kine'), '--passphrase-file', pass];
  const mx = ['--dir', join(work, 'mutuelle'), '--passphrase-file', pass];

  // 1. Each user creates keys; init prints the line for the admin.
  const initK = await cli(['init', '--participant', 'kine-martin', '--device', 'cabinet-pc', ...kine]);
  t.equal(initK.code, 0, initK.err);
  const lineK = /identityKey: ([A-Za-z0-9_-]{43})/.exec(initK.out)?.[1];
  t.ok(lineK, 'init prints the participants.yaml line');
  const initM = await cli(['init', '--participant', 'mutuelle-x', '--device', 'gestion-01', '--json', ...mx]);
  t.equal(initM.code, 0, initM.err);
  const lineM = initM.json[0]?.identityKey as string;
  t.equal(statSync(join(work, 'kine', 'keys.json')).mode & 0o777, 0o600, 'key file mode 0600');

  // 2. The admin pastes both lines and enables messaging (professional <-> insurer).
  enableMessaging(cfg, { 'kine-martin': lineK, 'mutuelle-x': lineM }, `  policy:\n    - { from: [professional], to: [insurer], both: true }\n`);
  const logs = new LogSink();
  gateway = await startGateway(mustLoad(cfg.dir), createLogger({ level: 'debug', destination: logs }));
  const url = gateway.url;

  // 3. Both register (the insurer's token from the environment, as a service would).
  const regK = await cli(['register', '--gateway', url, '--token', cfg.tokens['kine-martin'], ...kine]);
  t.equal(regK.code, 0, regK.err);
  process.env.PSL_E2E_MX_TOKEN = cfg.tokens['mutuelle-x'];
  t.teardown(() => { delete process.env.PSL_E2E_MX_TOKEN; });
  const regM = await cli(['register', '--gateway', url, '--token', 'env:PSL_E2E_MX_TOKEN', ...mx]);
  t.equal(regM.code, 0, regM.err);
  t.notOk(readFileSync(join(work, 'kine', 'keys.json'), 'utf8').includes(cfg.tokens['kine-martin']), 'token sealed, not in clear');

  // 4. The insurer is offline; the physiotherapist sends the request with a PDF.
  const pdfPath = join(work, M.fileName);
  const pdf = makePdf();
  writeFileSync(pdfPath, pdf);
  const claimPath = join(work, 'claim.json');
  writeFileSync(claimPath, JSON.stringify({
    resourceType: 'Claim', status: 'active', use: 'preauthorization',
    patient: { display: M.patient }, provider: { reference: 'Practitioner/kine-martin' },
    item: [{ sequence: 1, productOrService: { text: 'Rééducation genou (LCA)' }, quantity: { value: 20 } }],
  }));
  const sent = await cli(['send', '--to', 'mutuelle-x', '--subject', M.subject, '--text', M.text, '--fhir', claimPath, '--file', pdfPath, '--json', ...kine]);
  t.equal(sent.code, 0, sent.err);
  const sentId = sent.json[0]?.id as string;
  t.match(sent.json[0], { suite: 'xwing+x25519.xchacha20poly1305.ed25519.blake2b', accepted: { status: 'accepted' }, acceptedVerified: true },
    'hybrid suite, accepted by the gateway with a receipt signed by its pinned service key');

  // 5. The insurer comes back online and follows over WebSocket.
  const got = await cli(['follow', '--count', '1', '--json', ...mx]);
  t.equal(got.code, 0, got.err);
  const msg = got.json.find((e) => e.kind === 'message');
  t.ok(msg, `follow output: ${got.out}${got.err}`);
  t.match(msg, {
    id: sentId, direction: 'in', verified: true, gatewayReceipt: 'verified', type: 'pa.request', subject: M.subject, text: M.text,
    from: { participant: 'kine-martin', device: 'cabinet-pc' }, body: { resource: { resourceType: 'Claim', patient: { display: M.patient } } },
  }, 'insurer reads a verified request');
  const att = (msg?.attachments as Array<{ savedAs: string; name: string; mime: string }> | undefined)?.[0];
  t.match(att, { name: M.fileName, mime: 'application/pdf' });
  t.same(readFileSync(att!.savedAs), pdf, 'the PDF arrives byte for byte');

  // 6. The insurer replies (ClaimResponse); the physiotherapist pulls the inbox.
  const respPath = join(work, 'response.json');
  writeFileSync(respPath, JSON.stringify({ resourceType: 'ClaimResponse', status: 'active', use: 'preauthorization', outcome: 'complete' }));
  const reply = await cli(['send', '--to', 'kine-martin', '--reply-to', sentId, '--text', M.reply, '--fhir', respPath, '--json', ...mx]);
  t.equal(reply.code, 0, reply.err);
  const inbox = await cli(['inbox', '--json', ...kine]);
  t.equal(inbox.code, 0, inbox.err);
  const answer = inbox.json.find((e) => e.kind === 'message' && e.class === 'message');
  t.match(answer, { verified: true, type: 'pa.decision', text: M.reply, replyTo: sentId, from: { participant: 'mutuelle-x' } }, 'verified reply');
  const receipt = inbox.json.find((e) => e.kind === 'message' && e.class === 'receipt');
  t.match(receipt, { type: 'receipt.read', ref: sentId, verified: true, from: { participant: 'mutuelle-x' } }, 'E2E read receipt');
  const human = await cli(['inbox', '--all', ...kine]);
  t.match(human.out, /message from mutuelle-x \(gestion-01\)[\s\S]*verified/, 'human output says verified');
  t.match(human.out, /read by mutuelle-x/, 'the sent request shows it was read');

  // 7. A second pull finds nothing new (acked), and both sides get one safety number.
  const again = await cli(['inbox', '--json', ...mx]);
  t.same(again.json.filter((e) => e.kind === 'message' && e.class === 'message'), [], 'nothing re-delivered to the insurer');
  const vK = await cli(['verify', 'mutuelle-x', '--json', ...kine]);
  const vM = await cli(['verify', 'kine-martin', '--confirm', '--json', ...mx]);
  t.equal(vK.json[0]?.safetyNumber, vM.json[0]?.safetyNumber, 'same safety number on both sides');
  t.match(vK.json[0]?.safetyNumber, /^(\d{5} ){11}\d{5}$/);
  t.equal(vM.json[0]?.trust, 'confirmed');
  t.equal(vK.json[0]?.proven, true, 'directory entries proven against the signed head');

  // 8. Nothing readable on the gateway side: stores, blobs, logs.
  await gateway.stop();
  gateway = undefined;
  const gwFiles = filesUnder(join(cfg.dir, 'data'));
  t.ok(gwFiles.some((f) => f.includes('lmdb')), 'LMDB files present');
  t.ok(gwFiles.some((f) => f.includes('blobs')), 'blob files present');
  for (const [name, marker] of Object.entries(M)) {
    const needle = Buffer.from(marker);
    const hits = gwFiles.filter((f) => readFileSync(f).includes(needle));
    t.same(hits, [], `no ${name} marker in gateway files`);
    t.same(logs.lines.filter((l) => l.includes(marker)), [], `no ${name} marker in gateway logs`);
  }
  // Positive controls: the same greps do find what is meant to be there.
  t.ok(gwFiles.some((f) => readFileSync(f).includes(Buffer.from('kine-martin'))), 'routing metadata (participant ids) is visible to the grep');
  t.ok(logs.lines.some((l) => l.includes(sentId)), 'the logs captured the relay handling this envelope (by id)');
  t.ok(filesUnder(join(work, 'mutuelle', 'files')).some((f) => readFileSync(f).includes(Buffer.from(M.pdf))), 'the insurer\'s saved PDF holds the marker');
});
