import { sha256Hex } from '../../gateway/core/ids.js';

/**
 * Hash of a message with MSH-7 (date/time of message) emptied: two sends that differ only in
 * MSH-7 have the same one. Used only for a feed that configures a duplicate window
 * (`duplicates.msh7WindowSeconds`), for senders that re-stamp MSH-7 when they retransmit.
 * Undefined when the payload does not start with an MSH segment.
 * @param bytes - one message as received
 */
export function hashWithoutMsh7(bytes: Uint8Array): string | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 || buf.toString('latin1', 0, 3) !== 'MSH') return undefined;
  const sep = buf[3]!;
  let end = buf.indexOf(0x0d);
  const lf = buf.indexOf(0x0a);
  if (end < 0 || (lf >= 0 && lf < end)) end = lf;
  if (end < 0) end = buf.length;
  // MSH-1 is the separator itself, so MSH-7 starts after the 6th separator of the segment.
  let start = 3;
  for (let n = 0; n < 6; n++) {
    start = buf.indexOf(sep, start + (n === 0 ? 0 : 1));
    if (start < 0 || start >= end) return sha256Hex(buf);
  }
  let stop = buf.indexOf(sep, start + 1);
  if (stop < 0 || stop > end) stop = end;
  return sha256Hex(Buffer.concat([buf.subarray(0, start + 1), buf.subarray(stop)]));
}
