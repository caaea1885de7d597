import type { AccessUnit, AudioCodec, VideoCodec } from './access-unit.ts';

export const VIDEO_STREAM_ID = 0xe0;
export const AUDIO_STREAM_ID = 0xc0;

/** PSM stream_type values used by GB/T 28181. */
export const STREAM_TYPE = {
  h264: 0x1b,
  h265: 0x24,
  aac: 0x0f,
  g711a: 0x90,
  g711u: 0x91,
} as const satisfies Record<VideoCodec | AudioCodec, number>;

/** PES payload per packet: PES_packet_length is 16 bits and also counts the PES header. */
export const MAX_PES_PAYLOAD = 65000;

const TWO_30 = 2 ** 30;
const TWO_33 = 2 ** 33;
const PACK_HEADER_LENGTH = 14;
/** program_mux_rate in units of 50 bytes/s; decoders ignore it for file/stream input. */
const MUX_RATE = 0x3fff;

export interface PsMuxerOptions {
  /** announced in the PSM from the start; otherwise taken from the first video access unit */
  videoCodec?: VideoCodec;
  /** announced in the PSM from the start; otherwise taken from the first audio access unit */
  audioCodec?: AudioCodec;
  /** SCR = dts - scrOffset (90 kHz). Default 0. */
  scrOffset?: number;
}

/**
 * GB/T 28181-shaped MPEG-2 program stream muxer: one pack per access unit; pack header +
 * system header + PSM before each video key frame (and on the first pack or a new codec);
 * one PES per frame with PTS (DTS when it differs), split in several PES above 65,000 bytes.
 */
export class PsMuxer {
  #videoCodec?: VideoCodec;
  #audioCodec?: AudioCodec;
  readonly #scrOffset: number;
  #psmVersion = 0;
  #announced = '';

  constructor(o: PsMuxerOptions = {}) {
    this.#videoCodec = o.videoCodec;
    this.#audioCodec = o.audioCodec;
    this.#scrOffset = o.scrOffset ?? 0;
  }

  mux(au: AccessUnit): Buffer {
    if (au.kind === 'video') this.#videoCodec = au.codec as VideoCodec;
    else this.#audioCodec = au.codec as AudioCodec;
    const streams = this.#streams();
    const signature = streams.map((s) => `${s.id}:${s.type}`).join(',');
    const withHeaders = (au.kind === 'video' && au.key) || signature !== this.#announced;
    if (signature !== this.#announced) {
      this.#announced = signature;
      this.#psmVersion = (this.#psmVersion + 1) & 0x1f;
    }

    const streamId = au.kind === 'video' ? VIDEO_STREAM_ID : AUDIO_STREAM_ID;
    const withDts = au.dts !== au.pts;
    const pesCount = Math.max(1, Math.ceil(au.data.length / MAX_PES_PAYLOAD));
    const firstHeader = 9 + (withDts ? 10 : 5);
    const systemLength = 12 + 3 * streams.length;
    const psmLength = 6 + 10 + 4 * streams.length;
    const size =
      PACK_HEADER_LENGTH + (withHeaders ? systemLength + psmLength : 0) + firstHeader + (pesCount - 1) * 9 + au.data.length;

    const out = Buffer.allocUnsafe(size);
    let o = writePackHeader(out, 0, Math.max(0, au.dts - this.#scrOffset));
    if (withHeaders) {
      o = writeSystemHeader(out, o, streams);
      o = writePsm(out, o, streams, this.#psmVersion);
    }
    for (let i = 0, pos = 0; i < pesCount; i++) {
      const n = Math.min(MAX_PES_PAYLOAD, au.data.length - pos);
      out[o] = 0;
      out[o + 1] = 0;
      out[o + 2] = 1;
      out[o + 3] = streamId;
      if (i === 0) {
        const hdr = withDts ? 10 : 5;
        out.writeUInt16BE(3 + hdr + n, o + 4);
        out[o + 6] = 0x80;
        out[o + 7] = withDts ? 0xc0 : 0x80;
        out[o + 8] = hdr;
        writeTimestamp(out, o + 9, withDts ? 0x3 : 0x2, au.pts);
        if (withDts) writeTimestamp(out, o + 14, 0x1, au.dts);
        o += 9 + hdr;
      } else {
        // continuation PES of the same frame: no PTS
        out.writeUInt16BE(3 + n, o + 4);
        out[o + 6] = 0x80;
        out[o + 7] = 0;
        out[o + 8] = 0;
        o += 9;
      }
      au.data.copy(out, o, pos, pos + n);
      o += n;
      pos += n;
    }
    return out;
  }

  #streams(): { id: number; type: number }[] {
    const s: { id: number; type: number }[] = [];
    if (this.#videoCodec) s.push({ id: VIDEO_STREAM_ID, type: STREAM_TYPE[this.#videoCodec] });
    if (this.#audioCodec) s.push({ id: AUDIO_STREAM_ID, type: STREAM_TYPE[this.#audioCodec] });
    return s;
  }
}

function writePackHeader(out: Buffer, o: number, scr90k: number): number {
  const scr = ((scr90k % TWO_33) + TWO_33) % TWO_33;
  const hi = Math.floor(scr / TWO_30) & 0x07;
  const lo = scr % TWO_30;
  out[o] = 0;
  out[o + 1] = 0;
  out[o + 2] = 1;
  out[o + 3] = 0xba;
  out[o + 4] = 0x40 | (hi << 3) | 0x04 | ((lo >>> 28) & 0x03);
  out[o + 5] = (lo >>> 20) & 0xff;
  out[o + 6] = ((lo >>> 12) & 0xf8) | 0x04 | ((lo >>> 13) & 0x03);
  out[o + 7] = (lo >>> 5) & 0xff;
  out[o + 8] = ((lo & 0x1f) << 3) | 0x04; // SCR extension 0
  out[o + 9] = 0x01;
  out[o + 10] = (MUX_RATE >>> 14) & 0xff;
  out[o + 11] = (MUX_RATE >>> 6) & 0xff;
  out[o + 12] = ((MUX_RATE & 0x3f) << 2) | 0x03;
  out[o + 13] = 0xf8; // no stuffing
  return o + PACK_HEADER_LENGTH;
}

function writeSystemHeader(out: Buffer, o: number, streams: { id: number }[]): number {
  const audio = streams.filter((s) => s.id >= 0xc0 && s.id <= 0xdf).length;
  const video = streams.filter((s) => s.id >= 0xe0 && s.id <= 0xef).length;
  out[o] = 0;
  out[o + 1] = 0;
  out[o + 2] = 1;
  out[o + 3] = 0xbb;
  out.writeUInt16BE(6 + 3 * streams.length, o + 4);
  out[o + 6] = 0x80 | ((MUX_RATE >>> 15) & 0x7f);
  out[o + 7] = (MUX_RATE >>> 7) & 0xff;
  out[o + 8] = ((MUX_RATE & 0x7f) << 1) | 0x01;
  out[o + 9] = (audio << 2) | 0x02 | 0x00; // fixed_flag 1, CSPS 0
  out[o + 10] = 0xe0 | video; // audio/video lock, marker
  out[o + 11] = 0x7f; // packet_rate_restriction 0, reserved
  let p = o + 12;
  for (const s of streams) {
    const video = s.id >= 0xe0;
    out[p] = s.id;
    // P-STD buffer: video in 1024-byte units (scale 1), audio in 128-byte units (scale 0)
    const bound = video ? 0x2000 | 0x200 : 0x0000 | 0x20;
    out.writeUInt16BE(0xc000 | bound, p + 1);
    p += 3;
  }
  return p;
}

function writePsm(out: Buffer, o: number, streams: { id: number; type: number }[], version: number): number {
  const start = o;
  out[o] = 0;
  out[o + 1] = 0;
  out[o + 2] = 1;
  out[o + 3] = 0xbc;
  out.writeUInt16BE(10 + 4 * streams.length, o + 4);
  out[o + 6] = 0x80 | 0x60 | version; // current_next_indicator, reserved
  out[o + 7] = 0xff; // reserved + marker
  out.writeUInt16BE(0, o + 8); // program_stream_info_length
  out.writeUInt16BE(4 * streams.length, o + 10);
  let p = o + 12;
  for (const s of streams) {
    out[p] = s.type;
    out[p + 1] = s.id;
    out.writeUInt16BE(0, p + 2);
    p += 4;
  }
  out.writeUInt32BE(crc32Mpeg(out, start, p), p);
  return p + 4;
}

/** PES timestamp field: 4-bit prefix, 33 bits with marker bits. */
function writeTimestamp(out: Buffer, o: number, prefix: number, ts90k: number): void {
  const ts = ((ts90k % TWO_33) + TWO_33) % TWO_33;
  const hi = Math.floor(ts / TWO_30) & 0x07;
  const lo = ts % TWO_30;
  out[o] = (prefix << 4) | (hi << 1) | 0x01;
  out[o + 1] = (lo >>> 22) & 0xff;
  out[o + 2] = ((lo >>> 14) & 0xfe) | 0x01;
  out[o + 3] = (lo >>> 7) & 0xff;
  out[o + 4] = ((lo << 1) & 0xfe) | 0x01;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32/MPEG-2 as carried at the end of a PSM. */
export function crc32Mpeg(buf: Buffer, start: number, end: number): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ buf[i]) & 0xff]) >>> 0;
  return crc >>> 0;
}
