import pino, { type Logger } from 'pino';

export interface RtpTcpFramerStats {
  packets: number;
  /** times framing was lost and searched for again */
  resyncs: number;
  droppedBytes: number;
}

/**
 * Splits a TCP byte stream into RTP packets: RFC 4571 (2-byte length) and RTSP-style `$`
 * interleave (`$`, channel, 2-byte length), told apart per packet. Packets are views of the
 * received chunks except when one straddles two chunks (then it is copied once).
 */
export class RtpTcpFramer {
  readonly stats: RtpTcpFramerStats = { packets: 0, resyncs: 0, droppedBytes: 0 };
  readonly #onPacket: (pkt: Buffer) => void;
  readonly #log: Logger;
  #head: Buffer = Buffer.alloc(0);
  #partial?: { buf: Buffer; filled: number };
  #inSync = true;

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
      if (end - i < 5) {
        this.#head = Buffer.from(chunk.subarray(i));
        return;
      }
      let hdr: number;
      let len: number;
      // `$` unless the bytes also read as RFC 4571 with a 0x24xx length (RTP version bits at +2)
      if (chunk[i] === 0x24 && (chunk[i + 4] & 0xc0) === 0x80 && (chunk[i + 2] & 0xc0) !== 0x80) {
        hdr = 4;
        len = chunk.readUInt16BE(i + 2);
      } else {
        hdr = 2;
        len = chunk.readUInt16BE(i);
        if ((chunk[i + 2] & 0xc0) !== 0x80) len = 0;
      }
      if (len < 12) {
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
      const start = i + hdr;
      if (start + len <= end) {
        this.#emit(chunk.subarray(start, start + len));
        i = start + len;
        continue;
      }
      const buf = Buffer.allocUnsafe(len);
      chunk.copy(buf, 0, start, end);
      this.#partial = { buf, filled: end - start };
      return;
    }
  }

  #emit(pkt: Buffer): void {
    this.stats.packets++;
    this.#onPacket(pkt);
  }
}
