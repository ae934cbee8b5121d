/**
 * Per-sender quotas: messages and bytes per minute, as token buckets refilled continuously.
 * In-process: with several gateway processes each enforces its own share (documented in
 * README.md); the point is to stop one participant flooding a recipient or the disk.
 */
export class SenderQuota {
  readonly #buckets = new Map<string, { msgs: number; bytes: number; at: number }>();

  /**
   * @param limits.messagesPerMinute - burst and refill rate for messages
   * @param limits.bytesPerMinute - burst and refill rate for envelope bytes
   */
  constructor(private readonly limits: { messagesPerMinute: number; bytesPerMinute: number }) {}

  /**
   * Take one message of `bytes` from the sender's buckets.
   * @returns 0 when allowed, else the ms to wait before retrying
   */
  take(sender: string, bytes: number, now: number = Date.now()): number {
    const { messagesPerMinute: m, bytesPerMinute: b } = this.limits;
    const bucket = this.#buckets.get(sender) ?? { msgs: m, bytes: b, at: now };
    const elapsed = Math.max(0, now - bucket.at) / 60_000;
    bucket.msgs = Math.min(m, bucket.msgs + elapsed * m);
    bucket.bytes = Math.min(b, bucket.bytes + elapsed * b);
    bucket.at = now;
    this.#buckets.set(sender, bucket);
    if (bucket.msgs < 1 || bucket.bytes < bytes) {
      const needMsgs = bucket.msgs < 1 ? ((1 - bucket.msgs) / m) * 60_000 : 0;
      const needBytes = bucket.bytes < bytes ? ((bytes - bucket.bytes) / b) * 60_000 : 0;
      return Math.max(1, Math.ceil(Math.max(needMsgs, needBytes)));
    }
    bucket.msgs -= 1;
    bucket.bytes -= bytes;
    return 0;
  }
}
