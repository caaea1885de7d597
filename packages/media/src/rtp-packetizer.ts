export const RTP_HEADER_LENGTH = 12;

export interface RtpPacketizerOptions {
  ssrc: number;
  /** default 96 (PS) */
  payloadType?: number;
  /** largest RTP payload in bytes; default 1400 to stay under a 1500-byte MTU */
  maxPayload?: number;
  /** default random */
  initialSeq?: number;
}

/** Cuts one payload (a PS pack, i.e. one frame) into RTP packets, marker on the last one. */
export class RtpPacketizer {
  readonly ssrc: number;
  readonly payloadType: number;
  readonly maxPayload: number;
  #seq: number;

  constructor(o: RtpPacketizerOptions) {
    if (!Number.isInteger(o.ssrc) || o.ssrc < 0 || o.ssrc > 0xffffffff) throw new TypeError(`bad ssrc ${o.ssrc}`);
    this.ssrc = o.ssrc;
    this.payloadType = o.payloadType ?? 96;
    this.maxPayload = o.maxPayload ?? 1400;
    if (this.maxPayload < 1) throw new TypeError(`bad maxPayload ${o.maxPayload}`);
    this.#seq = (o.initialSeq ?? Math.floor(Math.random() * 0x10000)) & 0xffff;
  }

  /** sequence number the next packet will carry */
  get nextSeq(): number {
    return this.#seq;
  }

  packetize(payload: Buffer, timestamp90k: number): Buffer[] {
    const ts = ((Math.floor(timestamp90k) % 0x100000000) + 0x100000000) % 0x100000000;
    const count = Math.max(1, Math.ceil(payload.length / this.maxPayload));
    const out: Buffer[] = new Array(count);
    for (let i = 0, pos = 0; i < count; i++) {
      const n = Math.min(this.maxPayload, payload.length - pos);
      const pkt = Buffer.allocUnsafe(RTP_HEADER_LENGTH + n);
      pkt[0] = 0x80;
      pkt[1] = (i === count - 1 ? 0x80 : 0) | (this.payloadType & 0x7f);
      pkt.writeUInt16BE(this.#seq, 2);
      pkt.writeUInt32BE(ts, 4);
      pkt.writeUInt32BE(this.ssrc, 8);
      payload.copy(pkt, RTP_HEADER_LENGTH, pos, pos + n);
      this.#seq = (this.#seq + 1) & 0xffff;
      pos += n;
      out[i] = pkt;
    }
    return out;
  }
}

/** RFC 4571 framing for RTP over TCP: 2-byte big-endian length, then the packet. */
export function frameRfc4571(pkt: Buffer): Buffer {
  if (pkt.length > 0xffff) throw new RangeError(`RTP packet of ${pkt.length} bytes cannot be framed`);
  const out = Buffer.allocUnsafe(2 + pkt.length);
  out.writeUInt16BE(pkt.length, 0);
  pkt.copy(out, 2);
  return out;
}

/** RTSP-style interleaved framing (`$`, channel, 2-byte length), seen on some devices. */
export function frameInterleaved(pkt: Buffer, channel = 0): Buffer {
  if (pkt.length > 0xffff) throw new RangeError(`RTP packet of ${pkt.length} bytes cannot be framed`);
  const out = Buffer.allocUnsafe(4 + pkt.length);
  out[0] = 0x24;
  out[1] = channel;
  out.writeUInt16BE(pkt.length, 2);
  pkt.copy(out, 4);
  return out;
}
