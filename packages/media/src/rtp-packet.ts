export interface RtpPacket {
  ssrc: number;
  seq: number;
  timestamp: number;
  marker: boolean;
  payloadType: number;
  /** view into the received buffer */
  payload: Buffer;
}

/** Parses one RTP packet (RFC 3550). null on anything that is not a well-formed version-2 packet. */
export function parseRtpPacket(buf: Buffer): RtpPacket | null {
  if (buf.length < 12) return null;
  const b0 = buf[0];
  if (b0 >> 6 !== 2) return null;
  let offset = 12 + (b0 & 0x0f) * 4;
  if (offset > buf.length) return null;
  if (b0 & 0x10) {
    if (offset + 4 > buf.length) return null;
    offset += 4 + buf.readUInt16BE(offset + 2) * 4;
    if (offset > buf.length) return null;
  }
  let end = buf.length;
  if (b0 & 0x20) {
    const pad = buf[end - 1];
    if (pad === 0 || offset + pad > end) return null;
    end -= pad;
  }
  return {
    ssrc: buf.readUInt32BE(8),
    seq: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    marker: (buf[1] & 0x80) !== 0,
    payloadType: buf[1] & 0x7f,
    payload: buf.subarray(offset, end),
  };
}
