/**
 * Splits a buffer of ADTS AAC into frames (views). Bytes that are not a valid ADTS header are
 * skipped until the next syncword; a truncated last frame is dropped.
 */
export function splitAdtsFrames(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i + 7 <= buf.length) {
    // syncword 0xFFF + layer 00
    if (buf[i] !== 0xff || (buf[i + 1] & 0xf6) !== 0xf0) {
      const next = buf.indexOf(0xff, i + 1);
      if (next === -1) break;
      i = next;
      continue;
    }
    const len = ((buf[i + 3] & 0x03) << 11) | (buf[i + 4] << 3) | (buf[i + 5] >> 5);
    const headerLen = buf[i + 1] & 0x01 ? 7 : 9;
    if (len < headerLen) {
      i++;
      continue;
    }
    if (i + len > buf.length) break;
    out.push(buf.subarray(i, i + len));
    i += len;
  }
  return out;
}

/** Sample rate of an ADTS header, or undefined. */
export function adtsSampleRate(frame: Buffer): number | undefined {
  if (frame.length < 7) return undefined;
  return ADTS_RATES[(frame[2] >> 2) & 0x0f];
}

const ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
