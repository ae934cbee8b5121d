// Shared test devices and a directory for the envelope tests (real libsodium keys, no mocks).
import { generateDeviceKeys, type DeviceKeys } from '../../../../protocol/crypto/keys.js';
import type { SenderDevice, SenderKeyLookup } from '../../../../protocol/crypto/envelope-verify.js';
import type { OpeningDevice } from '../../../../protocol/crypto/envelope-open.js';
import type { SealRecipient, SealSender } from '../../../../protocol/crypto/envelope-seal.js';
import { SUITES, type Suite } from '../../../../protocol/crypto/envelope-types.js';

export const NOW = 1_763_856_000_000;
export const DAY = 24 * 3600 * 1000;
export const ALL_SUITES: Suite[] = [SUITES.classic, SUITES.hybrid];

export interface Device {
  participant: string;
  device: string;
  keys: DeviceKeys;
  record: SenderDevice;
  asSender: SealSender;
  asRecipient: SealRecipient;
  opening: OpeningDevice;
}

export async function device(participant: string, name: string, over: Partial<SenderDevice> = {}): Promise<Device> {
  const keys = await generateDeviceKeys();
  const xw = keys.xwing!;
  return {
    participant,
    device: name,
    keys,
    record: { participant, device: name, sigKey: keys.sign.publicKey, notBefore: NOW - 10 * DAY, notAfter: NOW + 300 * DAY, revokedAt: null, ...over },
    asSender: { participant, device: name, sign: keys.sign },
    asRecipient: { participant, device: name, x25519: keys.x25519.publicKey, xwing: xw.publicKey },
    opening: {
      participant,
      device: name,
      keys: [
        { kind: 'x25519', publicKey: keys.x25519.publicKey, privateKey: keys.x25519.privateKey },
        { kind: 'xwing', publicKey: xw.publicKey, privateKey: xw.privateKey },
      ],
    },
  };
}

export function directory(devices: readonly Device[]): SenderKeyLookup {
  return (from) => devices.find((d) => d.participant === from.participant && d.device === from.device)?.record;
}

export function flip(bytes: Uint8Array, index = 0, bit = 1): Uint8Array {
  const out = Uint8Array.from(bytes);
  const i = ((index % out.length) + out.length) % out.length;
  out[i] = out[i]! ^ bit;
  return out;
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of stream) parts.push(p);
  return Uint8Array.from(Buffer.concat(parts));
}

export async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  if (bytes.length === 0) yield bytes;
}
