import { crc32Mpeg } from './ps-muxer.ts';

/*
 * A lean MPEG-TS muxer for HLS segments: H.264 / H.265 video and ADTS AAC, one PES per access unit,
 * written straight into one buffer per PES. Hand-written because bench/media-streams.ts measured
 * mediabunny's TS path (a JS call, a 188-byte copy and a file write per TS packet) at about a third
 * of the whole per-stream CPU, and bench/media-remux.ts at ~55 MB/s against ffmpeg's ~200 MB/s.
 * mediabunny stays selectable (`hls.muxer: 'mediabunny'`).
 */

const TS = 188;
const PMT_PID = 0x1000;
export const VIDEO_PID = 0x100;
export const AUDIO_PID = 0x101;
const STREAM_TYPE = { h264: 0x1b, h265: 0x24, aac: 0x0f } as const;
const AUD = { h264: Buffer.from([0, 0, 0, 1, 0x09, 0xf0]), h265: Buffer.from([0, 0, 0, 1, 0x46, 0x01, 0x50]) } as const;
const TWO_33 = 2 ** 33;

export interface TsMuxerOptions {
  video: 'h264' | 'h265';
  audio: boolean;
}

function writeTimestamp(buf: Buffer, off: number, prefix: number, ts: number): void {
  const t = ((Math.round(ts) % TWO_33) + TWO_33) % TWO_33;
  const hi = Math.floor(t / 2 ** 30) & 7;
  const lo = t % 2 ** 30;
  buf[off] = (prefix << 4) | (hi << 1) | 1;
  buf[off + 1] = (lo >>> 22) & 0xff;
  buf[off + 2] = (((lo >>> 15) & 0x7f) << 1) | 1;
  buf[off + 3] = (lo >>> 7) & 0xff;
  buf[off + 4] = ((lo & 0x7f) << 1) | 1;
}

function startsWithAud(codec: 'h264' | 'h265', d: Buffer): boolean {
  const i = d[2] === 1 ? 3 : d[3] === 1 ? 4 : -1;
  if (i < 0 || i >= d.length) return false;
  return codec === 'h264' ? (d[i]! & 0x1f) === 9 : ((d[i]! >> 1) & 0x3f) === 35;
}

export class TsMuxer {
  readonly #o: TsMuxerOptions;
  readonly #cc = new Map<number, number>();

  constructor(o: TsMuxerOptions) {
    this.#o = o;
  }

  /** PAT + PMT: at the start of every segment so each one decodes on its own. */
  tables(): Buffer {
    const out = Buffer.alloc(2 * TS, 0xff);
    // PAT
    const pat = Buffer.from([0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xe0 | (PMT_PID >> 8), PMT_PID & 0xff]);
    this.#section(out, 0, 0, pat);
    // PMT
    const streams: number[] = [STREAM_TYPE[this.#o.video], 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0x00];
    if (this.#o.audio) streams.push(STREAM_TYPE.aac, 0xe0 | (AUDIO_PID >> 8), AUDIO_PID & 0xff, 0xf0, 0x00);
    const len = 9 + streams.length + 4;
    const pmt = Buffer.from([0x02, 0xb0 | (len >> 8), len & 0xff, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0x00, ...streams]);
    this.#section(out, TS, PMT_PID, pmt);
    return out;
  }

  #section(out: Buffer, off: number, pid: number, body: Buffer): void {
    out[off] = 0x47;
    out[off + 1] = 0x40 | (pid >> 8);
    out[off + 2] = pid & 0xff;
    out[off + 3] = 0x10 | this.#nextCc(pid);
    out[off + 4] = 0; // pointer_field
    body.copy(out, off + 5);
    out.writeUInt32BE(crc32Mpeg(body, 0, body.length), off + 5 + body.length);
  }

  #nextCc(pid: number): number {
    const cc = this.#cc.get(pid) ?? 0;
    this.#cc.set(pid, (cc + 1) & 0xf);
    return cc;
  }

  /** One video access unit (Annex-B) as TS packets; pts/dts at 90 kHz, already offset to be positive. */
  video(data: Buffer, pts: number, dts: number, key: boolean): Buffer {
    const codec = this.#o.video;
    const aud = startsWithAud(codec, data) ? null : AUD[codec];
    const withDts = pts !== dts;
    const header = Buffer.allocUnsafe(9 + (withDts ? 10 : 5) + (aud ? aud.length : 0));
    header.writeUInt32BE(0x000001e0, 0);
    const pesLen = header.length - 6 + data.length;
    header.writeUInt16BE(pesLen > 0xffff ? 0 : pesLen, 4);
    header[6] = 0x84; // data_alignment_indicator
    header[7] = withDts ? 0xc0 : 0x80;
    header[8] = withDts ? 10 : 5;
    writeTimestamp(header, 9, withDts ? 3 : 2, pts);
    if (withDts) writeTimestamp(header, 14, 1, dts);
    if (aud) aud.copy(header, header.length - aud.length);
    // PCR a little behind DTS: the decoder needs the frame before its decode time
    return this.#packetize(VIDEO_PID, header, data, dts - 9000, key);
  }

  /** One ADTS frame (or several) as one audio PES. */
  audio(data: Buffer, pts: number): Buffer {
    const header = Buffer.allocUnsafe(14);
    header.writeUInt32BE(0x000001c0, 0);
    const pesLen = 8 + data.length;
    header.writeUInt16BE(pesLen > 0xffff ? 0 : pesLen, 4);
    header[6] = 0x84;
    header[7] = 0x80;
    header[8] = 5;
    writeTimestamp(header, 9, 2, pts);
    return this.#packetize(AUDIO_PID, header, data, null, false);
  }

  #packetize(pid: number, head: Buffer, body: Buffer, pcr: number | null, randomAccess: boolean): Buffer {
    const total = head.length + body.length;
    const firstAf = pcr !== null || randomAccess ? 2 + (pcr !== null ? 6 : 0) : 0;
    const firstCap = TS - 4 - firstAf;
    const n = total <= firstCap ? 1 : 1 + Math.ceil((total - firstCap) / (TS - 4));
    const out = Buffer.allocUnsafe(n * TS);
    let src = 0; // bytes of head+body consumed
    for (let i = 0; i < n; i++) {
      const p = i * TS;
      const remaining = total - src;
      let af = i === 0 ? firstAf : 0;
      const cap = TS - 4 - af;
      if (remaining < cap) af += cap - remaining; // stuffing in the adaptation field
      const payload = TS - 4 - af;
      out[p] = 0x47;
      out[p + 1] = (i === 0 ? 0x40 : 0) | (pid >> 8);
      out[p + 2] = pid & 0xff;
      out[p + 3] = (af > 0 ? 0x30 : 0x10) | this.#nextCc(pid);
      if (af > 0) {
        out[p + 4] = af - 1;
        if (af > 1) {
          let q = p + 6;
          if (i === 0 && (pcr !== null || randomAccess)) {
            out[p + 5] = (randomAccess ? 0x40 : 0) | (pcr !== null ? 0x10 : 0);
            if (pcr !== null) {
              const base = ((Math.round(pcr) % TWO_33) + TWO_33) % TWO_33;
              out.writeUInt32BE(Math.floor(base / 2), q);
              out[q + 4] = ((base & 1) << 7) | 0x7e;
              out[q + 5] = 0;
              q += 6;
            }
          } else {
            out[p + 5] = 0;
          }
          out.fill(0xff, q, p + 4 + af);
        }
      }
      // copy `payload` bytes from head then body
      let dst = p + 4 + af;
      let need = payload;
      if (src < head.length) {
        const k = Math.min(need, head.length - src);
        head.copy(out, dst, src, src + k);
        dst += k;
        src += k;
        need -= k;
      }
      if (need > 0) {
        const from = src - head.length;
        body.copy(out, dst, from, from + need);
        src += need;
      }
    }
    return out;
  }
}
