import { retainAccessUnit, type AccessUnit, type MediaSink } from './access-unit.ts';
import { parseH264Sps, parseH265Sps, type H265SpsInfo } from './sps-parser.ts';
import { SlabAllocator } from './slab-allocator.ts';
import { findNalUnits } from './annexb.ts';

/** FLV tag types */
export const FLV_AUDIO = 8;
export const FLV_VIDEO = 9;
export const FLV_SCRIPT = 18;

export interface FlvTag {
  type: typeof FLV_AUDIO | typeof FLV_VIDEO | typeof FLV_SCRIPT;
  /** milliseconds from the first key frame */
  timestamp: number;
  data: Buffer;
  /**
   * The whole serialised tag (11-byte header, `data`, PreviousTagSize) when the muxer built it in
   * one piece, `data` being a view into it: a consumer can send or store it without copying.
   */
  message?: Buffer;
}

export interface FlvMuxerOptions {
  onTag: (tag: FlvTag) => void;
  /** Where tag bytes come from (uninitialised; every byte is written). Default: ranges of shared slabs. */
  alloc?: (bytes: number) => Buffer;
  /** A video key frame's tags come next (so its GOP's tags can be told apart, see FlvGopMemory). */
  onKeyFrame?: () => void;
  /** Called when a malformed unit is dropped (no exception escapes `input`). */
  onDrop?: (reason: string) => void;
}

const HVC1 = Buffer.from('hvc1');
const HVC1_CODEC_ID = HVC1.readUInt32BE(0);
const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

const AVC_SEQUENCE_HEADER = Buffer.from([0x17, 0, 0, 0, 0]);
/** enhanced FLV: ex-header, key frame, PacketTypeSequenceStart */
const HEVC_SEQUENCE_START = Buffer.from([0x90 | 0]);
const AAC_SEQUENCE_HEADER = Buffer.from([0xaf, 0]);

/** FLV file header (9 bytes + PreviousTagSize0). */
export function flvFileHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  return Buffer.from([0x46, 0x4c, 0x56, 1, (hasAudio ? 4 : 0) | (hasVideo ? 1 : 0), 0, 0, 0, 9, 0, 0, 0, 0]);
}

/** Serialises a tag with its 11-byte header and trailing PreviousTagSize. */
export function encodeFlvTag(tag: FlvTag): Buffer {
  const size = tag.data.length;
  const out = Buffer.allocUnsafe(11 + size + 4);
  out[0] = tag.type;
  out.writeUIntBE(size, 1, 3);
  const ts = tag.timestamp >>> 0;
  out.writeUIntBE(ts & 0xffffff, 4, 3);
  out[7] = (ts >>> 24) & 0xff;
  out.writeUIntBE(0, 8, 3);
  tag.data.copy(out, 11);
  out.writeUInt32BE(11 + size, 11 + size);
  return out;
}

/** Tags live about one GOP (node-media-server's GOP cache): their own allocator. */
const tagSlabs = new SlabAllocator();

const sharedTagAlloc = (n: number): Buffer => tagSlabs.alloc(n);

/** A tag of `size` body bytes built in one piece; the caller fills `data`. */
function newTag(alloc: (n: number) => Buffer, type: FlvTag['type'], timestamp: number, size: number): FlvTag & { message: Buffer } {
  const message = alloc(11 + size + 4);
  message[0] = type;
  message[1] = (size >>> 16) & 0xff;
  message[2] = (size >>> 8) & 0xff;
  message[3] = size & 0xff;
  const ts = timestamp >>> 0;
  message[4] = (ts >>> 16) & 0xff;
  message[5] = (ts >>> 8) & 0xff;
  message[6] = ts & 0xff;
  message[7] = (ts >>> 24) & 0xff;
  message[8] = 0;
  message[9] = 0;
  message[10] = 0;
  message.writeUInt32BE(11 + size, 11 + size);
  return { type, timestamp, data: message.subarray(11, 11 + size), message };
}

/** A tag whose body is `parts` back to back. */
function tagOf(alloc: (n: number) => Buffer, type: FlvTag['type'], timestamp: number, ...parts: Buffer[]): FlvTag {
  let size = 0;
  for (const p of parts) size += p.length;
  const tag = newTag(alloc, type, timestamp, size);
  let o = 0;
  for (const p of parts) {
    tag.data.set(p, o);
    o += p.length;
  }
  return tag;
}

/** AMF0 `onMetaData` script tag body. */
function amf0OnMetaData(props: Record<string, number | boolean>): Buffer {
  const parts: Buffer[] = [];
  const str = (s: string): Buffer => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(Buffer.byteLength(s), 0);
    return Buffer.concat([b, Buffer.from(s)]);
  };
  parts.push(Buffer.from([2]), str('onMetaData'));
  const keys = Object.keys(props);
  const head = Buffer.alloc(5);
  head[0] = 8;
  head.writeUInt32BE(keys.length, 1);
  parts.push(head);
  for (const k of keys) {
    parts.push(str(k));
    const v = props[k]!;
    if (typeof v === 'boolean') parts.push(Buffer.from([1, v ? 1 : 0]));
    else {
      const b = Buffer.alloc(9);
      b[0] = 0;
      b.writeDoubleBE(v, 1);
      parts.push(b);
    }
  }
  parts.push(Buffer.from([0, 0, 9]));
  return Buffer.concat(parts);
}

function avcDecoderConfig(sps: Buffer, pps: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from([1, sps[1]!, sps[2]!, sps[3]!, 0xff, 0xe1])];
  const len = Buffer.alloc(2);
  len.writeUInt16BE(sps.length, 0);
  parts.push(len, sps, Buffer.from([pps.length]));
  for (const p of pps) {
    const l = Buffer.alloc(2);
    l.writeUInt16BE(p.length, 0);
    parts.push(l, p);
  }
  return Buffer.concat(parts);
}

function hevcDecoderConfig(info: H265SpsInfo, vps: Buffer[], sps: Buffer[], pps: Buffer[]): Buffer {
  const head = Buffer.alloc(23);
  head[0] = 1;
  head[1] = (info.profileSpace << 6) | (info.tierFlag << 5) | info.profileIdc;
  head.writeUInt32BE(info.compatibilityFlags >>> 0, 2);
  info.constraintBytes.copy(head, 6);
  head[12] = info.levelIdc;
  head[13] = 0xf0;
  head[14] = 0x00;
  head[15] = 0xfc;
  head[16] = 0xfc | info.chromaFormatIdc;
  head[17] = 0xf8 | (info.bitDepthLuma - 8);
  head[18] = 0xf8 | (info.bitDepthChroma - 8);
  head.writeUInt16BE(0, 19);
  head[21] = (info.maxSubLayers << 3) | ((info.temporalIdNested ? 1 : 0) << 2) | 3;
  head[22] = 3;
  const parts: Buffer[] = [head];
  for (const [type, list] of [[32, vps], [33, sps], [34, pps]] as const) {
    const h = Buffer.alloc(3);
    h[0] = 0x80 | type;
    h.writeUInt16BE(list.length, 1);
    parts.push(h);
    for (const nal of list) {
      const l = Buffer.alloc(2);
      l.writeUInt16BE(nal.length, 0);
      parts.push(l, nal);
    }
  }
  return Buffer.concat(parts);
}

/**
 * Turns access units into FLV tags: AVC, HEVC as enhanced FLV (`hvc1`), AAC and G.711.
 * Output starts at the first video key frame with `onMetaData`, then the sequence headers.
 */
export class FlvMuxer implements MediaSink {
  readonly #onTag: (tag: FlvTag) => void;
  readonly #onDrop: (reason: string) => void;
  readonly #alloc: (n: number) => Buffer;
  readonly #onKeyFrame: () => void;
  #base = -1;
  #videoConfig: Buffer | null = null;
  #audioConfig: Buffer | null = null;
  #audioSeen: AccessUnit['codec'] | null = null;
  #earlyAudio: AccessUnit[] = [];
  #closed = false;
  width = 0;
  height = 0;

  constructor(opts: FlvMuxerOptions) {
    this.#onTag = opts.onTag;
    this.#onDrop = opts.onDrop ?? (() => {});
    this.#alloc = opts.alloc ?? sharedTagAlloc;
    this.#onKeyFrame = opts.onKeyFrame ?? (() => {});
  }

  get started(): boolean {
    return this.#base >= 0;
  }

  input(au: AccessUnit): void {
    if (this.#closed) return;
    if (au.kind === 'video') this.#inputVideo(au);
    else {
      this.#audioSeen ??= au.codec;
      if (this.#base >= 0) this.#inputAudio(au);
      else {
        // PS demuxers finish a video frame only when the next pack arrives: audio of the same instant comes first
        this.#earlyAudio.push(retainAccessUnit(au));
        if (this.#earlyAudio.length > 64) this.#earlyAudio.shift();
      }
    }
  }

  close(): void {
    this.#closed = true;
  }

  #ms(ticks90k: number): number {
    return Math.max(0, Math.round((ticks90k - this.#base) / 90));
  }

  #inputVideo(au: AccessUnit): void {
    if (au.key) this.#onKeyFrame();
    const nals = findNalUnits(au.data);
    const h265 = au.codec === 'h265';
    const vps: Buffer[] = [];
    const sps: Buffer[] = [];
    const pps: Buffer[] = [];
    const frame: Buffer[] = [];
    for (const nal of nals) {
      if (nal.length === 0) continue;
      if (h265) {
        const t = (nal[0]! >> 1) & 0x3f;
        if (t === 32) vps.push(nal);
        else if (t === 33) sps.push(nal);
        else if (t === 34) pps.push(nal);
        else if (t !== 35) frame.push(nal);
      } else {
        const t = nal[0]! & 0x1f;
        if (t === 7) sps.push(nal);
        else if (t === 8) pps.push(nal);
        else if (t !== 9) frame.push(nal);
      }
    }
    if (this.#base < 0) {
      if (!au.key || sps.length === 0 || pps.length === 0 || (h265 && vps.length === 0)) {
        return; // players need a key frame with parameter sets first
      }
    }
    let config: Buffer | null = null;
    if (sps.length > 0 && pps.length > 0) {
      if (h265) {
        const info = vps.length > 0 ? parseH265Sps(sps[0]!) : null;
        if (info) {
          config = hevcDecoderConfig(info, vps, sps, pps);
          this.width = info.width;
          this.height = info.height;
        }
      } else {
        const info = parseH264Sps(sps[0]!);
        if (info) {
          config = avcDecoderConfig(sps[0]!, pps);
          this.width = info.width;
          this.height = info.height;
        }
      }
      if (!config && this.#base < 0) {
        this.#onDrop('unparsable sequence parameter set');
        return;
      }
    }
    let early: AccessUnit[] = [];
    if (this.#base < 0) {
      this.#base = au.dts;
      this.#emitMetaData(h265);
      early = this.#earlyAudio.filter((a) => a.dts >= au.dts);
      this.#earlyAudio = [];
    }
    const ts = this.#ms(au.dts);
    if (config && (!this.#videoConfig || !config.equals(this.#videoConfig))) {
      this.#videoConfig = config;
      this.#onTag(h265 ? tagOf(this.#alloc, FLV_VIDEO, ts, HEVC_SEQUENCE_START, HVC1, config) : tagOf(this.#alloc, FLV_VIDEO, ts, AVC_SEQUENCE_HEADER, config));
    }
    for (const a of early) this.#inputAudio(a);
    if (frame.length === 0) return;
    const cts = Math.max(-0x800000, Math.min(0x7fffff, Math.round((au.pts - au.dts) / 90)));
    const headLen = h265 ? 8 : 5;
    // AVCC/HVCC body: 4-byte NAL lengths, written straight into the tag
    let size = headLen;
    for (const n of frame) size += 4 + n.length;
    const tag = newTag(this.#alloc, FLV_VIDEO, ts, size);
    const body = tag.data;
    let o = headLen;
    for (const n of frame) {
      body.writeUInt32BE(n.length, o);
      body.set(n, o + 4);
      o += 4 + n.length;
    }
    if (h265) {
      body[0] = 0x80 | ((au.key ? 1 : 2) << 4) | 1;
      HVC1.copy(body, 1);
      body.writeIntBE(cts, 5, 3);
    } else {
      body[0] = ((au.key ? 1 : 2) << 4) | 7;
      body[1] = 1;
      body.writeIntBE(cts, 2, 3);
    }
    this.#onTag(tag);
  }

  #emitMetaData(h265: boolean): void {
    const props: Record<string, number | boolean> = {
      duration: 0,
      width: this.width,
      height: this.height,
      videocodecid: h265 ? HVC1_CODEC_ID : 7,
    };
    const audio = this.#audioSeen;
    if (audio) {
      props.audiocodecid = audio === 'aac' ? 10 : audio === 'g711a' ? 7 : 8;
      props.stereo = false;
    }
    this.#onTag(tagOf(this.#alloc, FLV_SCRIPT, 0, amf0OnMetaData(props)));
  }

  #inputAudio(au: AccessUnit): void {
    if (au.codec === 'g711a' || au.codec === 'g711u') {
      const tag = newTag(this.#alloc, FLV_AUDIO, this.#ms(au.dts), 1 + au.data.length);
      tag.data[0] = au.codec === 'g711a' ? 0x72 : 0x82;
      tag.data.set(au.data, 1);
      this.#onTag(tag);
      return;
    }
    if (au.codec !== 'aac') return;
    let off = 0;
    let dts = au.dts;
    const d = au.data;
    while (off + 7 <= d.length) {
      if (d[off] !== 0xff || (d[off + 1]! & 0xf0) !== 0xf0) {
        this.#onDrop('AAC without ADTS sync word');
        return;
      }
      const protectionAbsent = d[off + 1]! & 1;
      const profile = (d[off + 2]! >> 6) & 3;
      const freqIdx = (d[off + 2]! >> 2) & 0xf;
      const channels = ((d[off + 2]! & 1) << 2) | (d[off + 3]! >> 6);
      const frameLen = ((d[off + 3]! & 3) << 11) | (d[off + 4]! << 3) | (d[off + 5]! >> 5);
      const headerLen = protectionAbsent ? 7 : 9;
      const rate = AAC_RATES[freqIdx];
      if (frameLen < headerLen || off + frameLen > d.length || rate === undefined) {
        this.#onDrop('truncated ADTS frame');
        return;
      }
      const asc = Buffer.from([((profile + 1) << 3) | (freqIdx >> 1), ((freqIdx & 1) << 7) | (channels << 3)]);
      const ts = this.#ms(dts);
      if (!this.#audioConfig || !asc.equals(this.#audioConfig)) {
        this.#audioConfig = asc;
        this.#onTag(tagOf(this.#alloc, FLV_AUDIO, ts, AAC_SEQUENCE_HEADER, asc));
      }
      const tag = newTag(this.#alloc, FLV_AUDIO, ts, 2 + frameLen - headerLen);
      tag.data[0] = 0xaf;
      tag.data[1] = 1;
      tag.data.set(d.subarray(off + headerLen, off + frameLen), 2);
      this.#onTag(tag);
      dts += (1024 * 90000) / rate;
      off += frameLen;
    }
  }
}
