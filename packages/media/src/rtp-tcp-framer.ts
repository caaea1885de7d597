import pino, { type Logger } from 'pino';

export interface RtpTcpFramerStats {
  packets: number;
  /** times framing was lost and searched for again */
  resyncs: number;
  droppedBytes: number;
}

interface Frame {
  /** header length: 2 (RFC 4571) or 4 (`$` interleave) */
  hdr: number;
  len: number;
}

/**
 * Splits a TCP byte stream into RTP packets: RFC 4571 (2-byte length) and RTSP-style `$`
 * interleave (`$`, channel, 2-byte length), told apart per packet. Packets are views of the
 * received chunks except when one straddles two chunks (then it is copied once).
 *
 * After garbage, a random length field would lead the parser on a random walk through the
 * stream; so a packet is only trusted when its SSRC is the one seen last, or when the packet
 * right after it is well-formed and carries the same SSRC.
 */
export class RtpTcpFramer {
  readonly stats: RtpTcpFramerStats = { packets: 0, resyncs: 0, droppedBytes: 0 };
  readonly #onPacket: (pkt: Buffer) => void;
  readonly #log: Logger;
  #head: Buffer = Buffer.alloc(0);
  #partial?: { buf: Buffer; filled: number };
  #inSync = true;
  #ssrc = -1;

  constructor(onPacket: (pkt: Buffer) => void, logger?: Logger) {
    this.#onPacket = onPacket;
    this.#log = logger ?? pino({ level: 'silent' });
  }

  push(chunk: Buffer): void {
    if (this.#partial) {
      const p = this.#partial;
      const n = Math.min(p.buf.length - p.filled, chunk.length);
      chunk.copy(p.buf, p.filled, 0, n);
      p.filled += n;
      chunk = chunk.subarray(n);
      if (p.filled < p.buf.length) return;
      this.#partial = undefined;
      this.#emit(p.buf);
    }
    if (this.#head.length > 0) {
      chunk = Buffer.concat([this.#head, chunk]);
      this.#head = Buffer.alloc(0);
    }
    let i = 0;
    const end = chunk.length;
    while (i < end) {
      if (end - i < 5) break;
      const f = readFrame(chunk, i);
      let ok = f !== undefined;
      if (f) {
        const start = i + f.hdr;
        const ssrcKnown = start + 12 <= end;
        const sameSsrc = ssrcKnown && chunk.readUInt32BE(start + 8) === this.#ssrc;
        // interleaved RTCP (packet types 200..204) carries its SSRC elsewhere
        const rtcp = chunk[start + 1] >= 200 && chunk[start + 1] <= 204;
        if (!sameSsrc && !(rtcp && this.#inSync) && (!this.#inSync || this.#ssrc !== -1)) {
          // not obviously the stream we were reading: the next packet must confirm it
          const next = start + f.len;
          if (!ssrcKnown || next + 16 > end) {
            if (end - i > 0x30000) ok = false; // no confirmation within 192 KB: garbage
            else break; // wait for more bytes
          } else {
            const g = readFrame(chunk, next);
            ok = g !== undefined && chunk.readUInt32BE(next + g.hdr + 8) === chunk.readUInt32BE(start + 8);
          }
        }
      }
      if (!ok || !f) {
        if (this.#inSync) {
          this.#inSync = false;
          this.stats.resyncs++;
          this.#log.debug({ offset: i }, 'rtp/tcp framing lost');
        }
        this.stats.droppedBytes++;
        i++;
        continue;
      }
      this.#inSync = true;
      const start = i + f.hdr;
      if (start + 12 <= end && !(chunk[start + 1] >= 200 && chunk[start + 1] <= 204)) this.#ssrc = chunk.readUInt32BE(start + 8);
      if (start + f.len <= end) {
        this.#emit(chunk.subarray(start, start + f.len));
        i = start + f.len;
        continue;
      }
      const buf = Buffer.allocUnsafe(f.len);
      chunk.copy(buf, 0, start, end);
      this.#partial = { buf, filled: end - start };
      return;
    }
    if (i < end) this.#head = Buffer.from(chunk.subarray(i));
  }

  #emit(pkt: Buffer): void {
    this.stats.packets++;
    this.#onPacket(pkt);
  }
}

/** Framing header at i, if it announces a plausible RTP packet (version 2, >= 12 bytes). */
function readFrame(b: Buffer, i: number): Frame | undefined {
  if (i + 5 > b.length) return undefined;
  // `$` unless the bytes also read as RFC 4571 with a 0x24xx length (RTP version bits at +2)
  if (b[i] === 0x24 && (b[i + 4] & 0xc0) === 0x80 && (b[i + 2] & 0xc0) !== 0x80) {
    const len = b.readUInt16BE(i + 2);
    return len >= 12 ? { hdr: 4, len } : undefined;
  }
  const len = b.readUInt16BE(i);
  return len >= 12 && (b[i + 2] & 0xc0) === 0x80 ? { hdr: 2, len } : undefined;
}
