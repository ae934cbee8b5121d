/**
 * The response to a batch (HL7 v2.5.1 §2.10.3): the ACKs of its messages, one per message, wrapped
 * in the same envelope the sender used. FHS/BHS mirror the inbound header (sender and receiver
 * swapped, FHS-12/BHS-12 = the inbound FHS-11/BHS-11 control ID); BTS-1/FTS-1 carry the counts.
 * An unwrapped run of messages gets an unwrapped run of ACKs.
 */

const CR = Buffer.from('\r', 'latin1');

/**
 * @param envelope - inbound FHS/BHS/BTS/FTS segments as text (from splitBatch)
 * @param acks - encoded ACK messages, in order
 * @param options - timestamp and control ID of the response envelope; `encode` turns text into bytes
 */
export function batchEnvelope(envelope: readonly string[], acks: readonly Buffer[], options: { now: Date; controlId: string; encode: (text: string) => Buffer }): Buffer {
  const fhs = envelope.find((s) => s.startsWith('FHS'));
  const bhs = envelope.find((s) => s.startsWith('BHS'));
  const parts: Buffer[] = [];
  const seg = (text: string): void => {
    if (parts.length > 0) parts.push(CR);
    parts.push(options.encode(text));
  };
  const stamp = `${options.now.toISOString().replace(/[-:T]/g, '').slice(0, 14)}+0000`;
  if (fhs) seg(mirror(fhs, stamp, `F${options.controlId.slice(1)}`));
  if (fhs || bhs) seg(mirror(bhs ?? fhs!.replace(/^FHS/, 'BHS'), stamp, options.controlId));
  for (const ack of acks) {
    if (parts.length > 0) parts.push(CR);
    parts.push(ack);
  }
  if (fhs || bhs) seg(`BTS${sep(bhs ?? fhs!)}${acks.length}`);
  if (fhs) seg(`FTS${sep(fhs)}1`);
  return Buffer.concat(parts);
}

/** FHS/BHS fields 1-12; fields are copied raw (escapes intact) because the delimiters are the same. */
function mirror(segment: string, stamp: string, controlId: string): string {
  const s = sep(segment);
  // f[0] = name, f[1] = encoding characters (field 2), so field n is f[n - 1].
  const f = segment.split(s);
  const out = [f[0] ?? 'BHS', f[1] ?? '^~\\&', f[4] ?? '', f[5] ?? '', f[2] ?? '', f[3] ?? '', stamp, '', '', '', controlId, f[10] ?? ''];
  while (out.length > 2 && out[out.length - 1] === '') out.pop();
  return out.join(s);
}

function sep(segment: string): string {
  return segment[3] ?? '|';
}
