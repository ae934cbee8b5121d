/**
 * Envelope seal+sign and verify+open against the bare primitives, in the same run (STYLE.md §7).
 * Build then run:  npx tsc -p tsconfig.build.json && node dist/bench/envelope.bench.js
 * Prints ops/s and p50/p99 per case. Target: 1 KiB seal+sign ≤ 1 ms.
 */
import { sealEnvelope, type SealRecipient } from '../protocol/crypto/envelope-seal.js';
import { openEnvelope } from '../protocol/crypto/envelope-open.js';
import { decodeEnvelope, encodeEnvelope } from '../protocol/crypto/envelope-codec.js';
import { generateDeviceKeys, type DeviceKeys } from '../protocol/crypto/keys.js';
import { cryptoReady } from '../protocol/crypto/primitives.js';
import { SUITES, type Suite } from '../protocol/crypto/envelope-types.js';
import type { SenderDevice } from '../protocol/crypto/envelope-verify.js';
import type { Sodium } from '../protocol/crypto/sodium.js';
import { percentile } from './lib/stats.js';

interface Stats { name: string; ops: number; p50: number; p99: number }

let sink = 0;

async function measure(name: string, iterations: number, fn: () => unknown): Promise<Stats> {
  const warm = Math.max(3, Math.floor(iterations / 10));
  for (let i = 0; i < warm; i++) await fn();
  const times: number[] = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    const r = await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r instanceof Uint8Array) sink += r.length;
    else if (r !== undefined) sink += 1;
  }
  const total = Number(process.hrtime.bigint() - start) / 1e9;
  times.sort((a, b) => a - b);
  return { name, ops: iterations / total, p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

function print(rows: Stats[]): void {
  for (const r of rows) {
    console.log(`${r.name.padEnd(58)} ${r.ops.toFixed(1).padStart(10)} ops/s   p50 ${r.p50.toFixed(3).padStart(8)} ms   p99 ${r.p99.toFixed(3).padStart(8)} ms`);
  }
}

/** The floor: one AEAD over the same bytes, one wrap per recipient, one signature. */
function bareSeal(s: Sodium, suite: Suite, pks: Uint8Array[], inner: Uint8Array, signKey: Uint8Array): Uint8Array {
  const k = s.crypto_aead_xchacha20poly1305_ietf_keygen();
  const nonce = s.randombytes_buf(24);
  const ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(inner, null, null, nonce, k);
  for (const pk of pks) {
    if (suite === SUITES.classic) sink += s.crypto_box_seal(k, pk).length;
    else sink += s.crypto_kem_xwing_enc(pk).ciphertext.length + s.crypto_aead_xchacha20poly1305_ietf_encrypt(k, null, null, nonce, k).length;
  }
  return s.crypto_sign_detached(ct, signKey);
}

async function main(): Promise<void> {
  const s = await cryptoReady();
  const sender = await generateDeviceKeys();
  const devices: DeviceKeys[] = [];
  for (let i = 0; i < 5; i++) devices.push(await generateDeviceKeys());
  const recipients: SealRecipient[] = devices.map((d, i) => ({ participant: `p${i}`, device: 'd', x25519: d.x25519.publicKey, xwing: d.xwing!.publicKey }));
  const record: SenderDevice = { participant: 'chu-lyon', device: 'his-01', sigKey: sender.sign.publicKey, notBefore: 0, notAfter: Number.MAX_SAFE_INTEGER };
  const noReplay = { remember: (): boolean => true }; // the same envelope is opened repeatedly
  const rows: Stats[] = [];

  console.log(`libsodium ${s.sodium_version_string()} · node ${process.version}`);
  for (const [label, bodyBytes, iterations] of [['1 KiB', 1024, 2000], ['1 MiB', 1024 * 1024 - 1024, 40]] as const) {
    const body = 'x'.repeat(bodyBytes);
    const inner = new TextEncoder().encode(body);
    for (const suite of [SUITES.classic, SUITES.hybrid]) {
      const short = suite === SUITES.classic ? 'x25519' : 'xwing';
      for (const n of [1, 5]) {
        const to = recipients.slice(0, n);
        const opts = { suite, sender: { participant: 'chu-lyon', device: 'his-01', sign: sender.sign }, recipients: to, content: { type: 'text', body } };
        rows.push(await measure(`seal+sign   ${label} ${short} n=${n}`, iterations, () => sealEnvelope(opts)));
        const pks = devices.slice(0, n).map((d) => (suite === SUITES.classic ? d.x25519.publicKey : d.xwing!.publicKey));
        rows.push(await measure(`  bare      ${label} ${short} n=${n}`, iterations, () => bareSeal(s, suite, pks, inner, sender.sign.privateKey)));

        const env = await sealEnvelope(opts);
        const me = devices[0]!;
        const recipient = {
          participant: 'p0', device: 'd',
          keys: [suite === SUITES.classic
            ? { kind: 'x25519' as const, publicKey: me.x25519.publicKey, privateKey: me.x25519.privateKey }
            : { kind: 'xwing' as const, publicKey: me.xwing!.publicKey, privateKey: me.xwing!.privateKey }],
        };
        const openOpts = { suites: [suite], senderLookup: () => record, replay: noReplay, recipient, receivedAt: env.ts, now: env.ts };
        rows.push(await measure(`verify+open ${label} ${short} n=${n}`, iterations, async () => {
          const r = await openEnvelope(env, openOpts);
          if (!r.ok) throw new Error(`bench envelope refused: ${r.reason}`);
          return r;
        }));
        // Bare open: unwrap one K, verify one signature, decrypt once.
        const k = s.crypto_aead_xchacha20poly1305_ietf_keygen();
        const nonce = s.randombytes_buf(24);
        const ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(inner, null, null, nonce, k);
        const sig = s.crypto_sign_detached(ct, sender.sign.privateKey);
        const wrapC = s.crypto_box_seal(k, me.x25519.publicKey);
        const kem = s.crypto_kem_xwing_enc(me.xwing!.publicKey);
        rows.push(await measure(`  bare      ${label} ${short} n=${n}`, iterations, () => {
          if (suite === SUITES.classic) sink += s.crypto_box_seal_open(wrapC, me.x25519.publicKey, me.x25519.privateKey).length;
          else sink += s.crypto_kem_xwing_dec(kem.ciphertext, me.xwing!.privateKey).length;
          if (!s.crypto_sign_verify_detached(sig, ct, sender.sign.publicKey)) throw new Error('bare verify failed');
          return s.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ct, null, nonce, k);
        }));
        if (n === 1) {
          const wire = encodeEnvelope(env);
          rows.push(await measure(`codec       ${label} ${short} decode+encode+decode`, iterations, () => decodeEnvelope(encodeEnvelope(decodeEnvelope(wire)))));
          rows.push(await measure(`  bare      ${label} ${short} JSON parse+stringify+parse`, iterations, () => JSON.parse(JSON.stringify(JSON.parse(new TextDecoder().decode(wire))))));
        }
      }
    }
  }
  print(rows);
  const target = rows.find((r) => r.name.startsWith('seal+sign   1 KiB x25519 n=1'))!;
  console.log(`target 1 KiB seal+sign (x25519, 1 recipient) p50 ≤ 1 ms: ${target.p50 <= 1 ? 'met' : 'MISSED'} (${target.p50.toFixed(3)} ms); sink ${sink}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
