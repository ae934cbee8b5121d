/**
 * The pipeline bench's helpers, so the bench keeps measuring what it says when the config schema,
 * the normalizers or the MLLP answers change: its temp config loads with the real loader, its
 * traffic is valid HL7 for distinct patients, and a commit ACK sharing a TCP chunk with the same
 * message's application ACK is still counted as normalized.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { hl7v2Normalizer } from '../../../adapters/hl7v2/normalize/index.js';
import { parseHl7 } from '../../../adapters/hl7v2/parse.js';
import { AppAckTracker } from '../../../bench/lib/app-ack-tracker.js';
import { writeBenchConfig } from '../../../bench/lib/bench-config.js';
import { MllpSender, paced } from '../../../bench/lib/mllp-load.js';
import { PatientTraffic } from '../../../bench/lib/patient-messages.js';
import { percentile } from '../../../bench/lib/stats.js';
import { sha256Hex } from '../../../gateway/core/ids.js';
import { REPO_ROOT } from '../../helpers/corpus.js';
import { mustLoad } from '../../helpers/gateway.js';

t.test('the bench config is the example config plus one open MLLP feed, and loads', async (t) => {
  const cfg = await writeBenchConfig({ source: join(REPO_ROOT, 'config'), feed: 'bench-mllp', connections: 16, normalize: false });
  t.teardown(() => rmSync(cfg.dir, { recursive: true, force: true }));
  const config = mustLoad(cfg.dir);
  t.equal(config.gateway.http.port, cfg.httpPort);
  t.equal(config.gateway.normalize.enabled, false, 'normalize switch written');
  t.equal(config.gateway.log.level, 'warn');
  t.same(config.gateway.store, { kind: 'lmdb', path: join(cfg.dir, 'data/lmdb') }, 'store inside the temp dir (resolved against the config directory)');
  const feed = config.feeds.find((f) => f.name === 'bench-mllp');
  t.equal(feed?.owner, 'chu-lyon', 'owned by the example hospital');
  t.equal(feed?.mllp?.port, cfg.mllpPort);
  t.equal(feed?.mllp?.maxConnectionsPerSource, 16, 'every connection may come from 127.0.0.1');
  t.ok(config.feeds.length > 1, 'the example feeds are kept');
  t.not(config.feeds.find((f) => f.name === 'bioplus-results')?.mllp?.port, 2575, "the example listener moved off its fixed port");
  const admin = config.participants.find((p) => p.kind === 'admin');
  t.equal(admin?.tokens[0]?.sha256, createHash('sha256').update(cfg.adminToken).digest('hex'), 'admin token for /metrics');
  t.notMatch(readFileSync(join(cfg.dir, 'gateway.yaml'), 'utf8'), /\.\.\/data/, 'no path leaves the temp dir');
});

t.test('the traffic is distinct patients, in enhanced mode, and every message normalizes', async (t) => {
  const traffic = new PatientTraffic({ prefix: 'TC0', seed: 7 });
  const controlIds = new Set<string>();
  const mrns = new Set<string>();
  const kinds = new Map<string, number>();
  const problems: string[] = [];
  for (let i = 0; i < 300; i++) {
    const m = traffic.next();
    controlIds.add(m.controlId);
    kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
    const parsed = parseHl7(m.bytes.toString('utf8'));
    if (!parsed.ok) throw new Error(`message ${i} does not parse`);
    if (parsed.message.header.controlId !== m.controlId) problems.push(`#${i}: MSH-10 differs from the announced one`);
    if (i === 0) t.same([parsed.message.header.acceptAckType, parsed.message.header.appAckType], ['AL', 'AL'], 'both ACKs asked for');
    const mrn = /\rPID\|1\|\|([^^]+)\^/.exec(m.bytes.toString('utf8'))?.[1];
    if (mrn) mrns.add(mrn);
    const out = hl7v2Normalizer.normalize({
      id: `raw_${i}`, feed: 'bench-mllp', participant: 'chu-lyon', format: 'hl7v2', receivedAt: new Date(),
      body: m.bytes, sha256: sha256Hex(m.bytes), contentType: 'x-application/hl7-v2+er7; charset=utf-8',
    });
    if (!out.ok || out.issues.some((x) => x.severity === 'error' || x.severity === 'fatal')) problems.push(`#${i} (${m.kind}) does not normalize cleanly`);
  }
  t.same(problems, [], 'every message parses with its MSH-10 and normalizes without errors');
  t.equal(controlIds.size, 300, 'MSH-10 unique per message');
  t.ok(mrns.size > 100, `${mrns.size} distinct MRNs`);
  t.ok((kinds.get('ADT^A04') ?? 0) > 0 && (kinds.get('ORU^R01') ?? 0) > 0 && (kinds.get('ADT^A08') ?? 0) > 0, 'A04, ORU and A08 all present');
});

t.test('an application ACK in the same chunk as its commit ACK is counted', async (t) => {
  const ack = (code: string, ctrl: string): string => `\x0bMSH|^~\\&|GW|GW|HIS|CHU|20260101||ACK|A1|P|2.5.1|||NE|NE\rMSA|${code}|${ctrl}\x1c\r`;
  const server = createServer((s) => {
    s.on('data', (chunk: Buffer) => {
      const ctrl = chunk.toString('utf8').split('\r')[0]!.split('|')[9]!;
      s.write(ack('CA', ctrl) + ack('AA', ctrl)); // one write: the sender reads both frames in one chunk
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => resolve()); }));
  const tracker = new AppAckTracker();
  const sender = await MllpSender.open((server.address() as AddressInfo).port, (id, code, at) => tracker.normalized(id, code, at));
  t.teardown(() => sender.close());
  const traffic = new PatientTraffic({ prefix: 'TC1', seed: 3 });
  const now = performance.now();
  const result = await paced({ sender, next: () => traffic.next(), rate: Infinity, start: now, end: now + 300, onAccepted: (id, at) => tracker.accepted(id, 1, at) });
  t.ok(result.acceptMs.length > 0, 'messages were accepted');
  t.equal(tracker.pending(1), 0, 'none is left waiting for its application ACK');
  t.equal(tracker.lags(1, performance.now()).lags.length, result.acceptMs.length, 'one lag per accepted message');
});

t.test('percentile: nearest rank on sorted samples, NaN when there are none', async (t) => {
  t.ok(Number.isNaN(percentile([], 0.5)));
  t.equal(percentile([1, 2, 3, 4], 0.5), 3);
  t.equal(percentile(Float64Array.from([5, 6, 7]), 0.99), 7);
});
