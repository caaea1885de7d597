import type { AccessUnit, VideoCodec } from './access-unit.ts';

const START_CODE = Buffer.from([0, 0, 1]);

/** Position of one NAL unit inside an Annex-B buffer. */
export interface NalPosition {
  /** first byte of the start code (a 4-byte start code's leading zero included) */
  start: number;
  /** first byte of the NAL header */
  nal: number;
  /** one past the last byte (the next start code begins here) */
  end: number;
}

/** Locates NAL units with Buffer.indexOf (native scan) rather than a per-byte JS loop. */
export function findNalPositions(buf: Buffer, from = 0, to = buf.length): NalPosition[] {
  const out: NalPosition[] = [];
  let sc = buf.indexOf(START_CODE, from);
  while (sc !== -1 && sc + 3 <= to) {
    const nal = sc + 3;
    let next = buf.indexOf(START_CODE, nal);
    if (next === -1 || next > to) next = to;
    const start = sc > from && buf[sc - 1] === 0 ? sc - 1 : sc;
    // A following 4-byte start code's leading zero belongs to that next NAL.
    let end = next;
    if (next < to && next > nal && buf[next - 1] === 0) end = next - 1;
    if (out.length > 0) out[out.length - 1].end = start;
    out.push({ start, nal, end });
    if (next >= to) break;
    sc = next;
  }
  return out;
}

/** NAL units (header + payload, without start codes) of an Annex-B buffer; views, not copies. */
export function findNalUnits(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (const p of findNalPositions(buf)) {
    let end = p.end;
    // trailing_zero_8bits before the next start code are not part of the NAL unit
    while (end > p.nal && buf[end - 1] === 0) end--;
    if (end > p.nal) out.push(buf.subarray(p.nal, end));
  }
  return out;
}

export function h264NalType(b0: number): number {
  return b0 & 0x1f;
}

export function h265NalType(b0: number): number {
  return (b0 >> 1) & 0x3f;
}

export function isVcl(codec: VideoCodec, b0: number): boolean {
  return codec === 'h264' ? isH264Vcl(h264NalType(b0)) : h265NalType(b0) < 32;
}

function isH264Vcl(t: number): boolean {
  return t >= 1 && t <= 5;
}

/** IDR for H.264, IRAP (BLA/IDR/CRA) for H.265. */
export function isKeyNal(codec: VideoCodec, b0: number): boolean {
  if (codec === 'h264') return h264NalType(b0) === 5;
  const t = h265NalType(b0);
  return t >= 16 && t <= 23;
}

/** True when this NAL must begin a new access unit if the current one already holds a picture. */
function startsAccessUnit(codec: VideoCodec, buf: Buffer, nal: number, end: number): boolean {
  const b0 = buf[nal];
  if (codec === 'h264') {
    const t = h264NalType(b0);
    if (t === 9 || t === 7 || t === 8 || t === 6 || (t >= 14 && t <= 18)) return true;
    // first_mb_in_slice == 0 is ue(v) '1': the first payload bit is set
    if (isH264Vcl(t)) return nal + 1 < end && (buf[nal + 1] & 0x80) !== 0;
    return false;
  }
  const t = h265NalType(b0);
  if (t < 32) return nal + 2 < end && (buf[nal + 2] & 0x80) !== 0; // first_slice_segment_in_pic_flag
  // VPS, SPS, PPS, AUD, prefix SEI, reserved 41..44, unspecified 48..55
  return (t >= 32 && t <= 35) || t === 39 || (t >= 41 && t <= 44) || (t >= 48 && t <= 55);
}

/**
 * Groups an Annex-B elementary stream into access units. Each unit's data is a view of the
 * original bytes from its first start code up to the next unit's, so concatenating all units
 * gives back the input (bytes before the first start code excepted).
 * pts = dts = i * 90000 / fps: fixtures are encoded without B-frames.
 */
export function splitAnnexBAccessUnits(es: Buffer, codec: VideoCodec, fps: number): AccessUnit[] {
  const out: AccessUnit[] = [];
  let auStart = -1;
  let hasPicture = false;
  let key = false;
  const push = (end: number): void => {
    const ts = Math.round((out.length * 90000) / fps);
    out.push({ kind: 'video', codec, data: es.subarray(auStart, end), pts: ts, dts: ts, key });
  };
  for (const p of findNalPositions(es)) {
    if (p.nal >= p.end) continue;
    if (auStart === -1) auStart = p.start;
    const vcl = isVcl(codec, es[p.nal]);
    if (hasPicture && startsAccessUnit(codec, es, p.nal, p.end)) {
      push(p.start);
      auStart = p.start;
      hasPicture = false;
      key = false;
    }
    if (vcl) {
      hasPicture = true;
      if (isKeyNal(codec, es[p.nal])) key = true;
    }
  }
  if (auStart !== -1 && hasPicture) push(es.length);
  return out;
}

/** Whether an Annex-B access unit holds a key picture; stops at the first picture NAL. */
export function isKeyAccessUnit(codec: VideoCodec, data: Buffer): boolean {
  let sc = data.indexOf(START_CODE);
  while (sc !== -1 && sc + 3 < data.length) {
    const b0 = data[sc + 3];
    if (isVcl(codec, b0)) return isKeyNal(codec, b0);
    sc = data.indexOf(START_CODE, sc + 3);
  }
  return false;
}

/**
 * Guesses H.264 vs H.265 from the NAL headers of an Annex-B buffer (streams without a PSM).
 * Parameter sets decide; otherwise header plausibility votes. undefined = no opinion yet.
 */
export function detectVideoCodec(data: Buffer): VideoCodec | undefined {
  let h264 = 0;
  let h265 = 0;
  let sc = data.indexOf(START_CODE);
  let seen = 0;
  while (sc !== -1 && sc + 4 < data.length && seen < 16) {
    const b0 = data[sc + 3];
    const b1 = data[sc + 4];
    seen++;
    if ((b0 & 0x80) === 0) {
      const t5 = h265NalType(b0);
      const h265Plausible = (b0 & 1) === 0 && b1 === 0x01 && (t5 <= 9 || (t5 >= 16 && t5 <= 21) || (t5 >= 32 && t5 <= 40));
      if (h265Plausible && (t5 === 32 || t5 === 33 || t5 === 34)) return 'h265';
      const t4 = h264NalType(b0);
      const refIdc = b0 >> 5;
      if (t4 === 7 && H264_PROFILES.has(b1)) return 'h264';
      const h264Plausible = t4 === 1 || t4 === 5 || t4 === 7 || t4 === 8 || ((t4 === 6 || t4 === 9) && refIdc === 0);
      if (h265Plausible) h265++;
      if (h264Plausible) h264++;
    }
    sc = data.indexOf(START_CODE, sc + 3);
  }
  if (h264 > h265) return 'h264';
  if (h265 > h264) return 'h265';
  return undefined;
}

const H264_PROFILES = new Set([44, 66, 77, 83, 86, 88, 100, 110, 118, 122, 128, 134, 135, 138, 139, 144, 244]);

/** Removes emulation-prevention bytes (00 00 03 -> 00 00) so the RBSP can be read bit by bit. */
function toRbsp(nal: Buffer): Buffer {
  if (nal.indexOf(Buffer.from([0, 0, 3])) === -1) return nal;
  const out = Buffer.allocUnsafe(nal.length);
  let n = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i];
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

class BitReader {
  #pos = 0;
  constructor(private readonly buf: Buffer) {}
  bit(): number {
    const byte = this.#pos >> 3;
    if (byte >= this.buf.length) throw new RangeError('SPS truncated');
    const v = (this.buf[byte] >> (7 - (this.#pos & 7))) & 1;
    this.#pos++;
    return v;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }
  skip(n: number): void {
    this.#pos += n;
  }
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) if (++zeros > 31) throw new RangeError('bad exp-golomb');
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** Picture size from an SPS NAL unit (header included, no start code). undefined if unreadable. */
export function parseVideoSize(codec: VideoCodec, sps: Buffer): { width: number; height: number } | undefined {
  try {
    return codec === 'h264' ? parseH264Size(toRbsp(sps)) : parseH265Size(toRbsp(sps));
  } catch {
    return undefined;
  }
}

function parseH264Size(rbsp: Buffer): { width: number; height: number } | undefined {
  const r = new BitReader(rbsp);
  r.skip(8);
  const profile = r.bits(8);
  r.skip(16); // constraint flags + level
  r.ue(); // sps id
  let chromaFormat = 1;
  let separateColourPlane = 0;
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
    chromaFormat = r.ue();
    if (chromaFormat === 3) separateColourPlane = r.bit();
    r.ue();
    r.ue();
    r.skip(1);
    if (r.bit()) {
      for (let i = 0; i < (chromaFormat !== 3 ? 8 : 12); i++) {
        if (!r.bit()) continue;
        const size = i < 6 ? 16 : 64;
        let last = 8;
        let next = 8;
        for (let j = 0; j < size; j++) {
          if (next !== 0) next = (last + r.se() + 256) % 256;
          last = next === 0 ? last : next;
        }
      }
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.skip(1);
    r.se();
    r.se();
    const n = r.ue();
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.skip(1);
  const wMbs = r.ue() + 1;
  const hMapUnits = r.ue() + 1;
  const frameMbsOnly = r.bit();
  if (!frameMbsOnly) r.skip(1);
  r.skip(1);
  let width = wMbs * 16;
  let height = (2 - frameMbsOnly) * hMapUnits * 16;
  if (r.bit()) {
    const [l, rt, t, b] = [r.ue(), r.ue(), r.ue(), r.ue()];
    const arrayType = separateColourPlane ? 0 : chromaFormat;
    const cropX = arrayType === 0 ? 1 : arrayType === 3 ? 1 : 2;
    const cropY = (arrayType === 0 ? 1 : arrayType === 1 ? 2 : 1) * (2 - frameMbsOnly);
    width -= (l + rt) * cropX;
    height -= (t + b) * cropY;
  }
  return width > 0 && height > 0 ? { width, height } : undefined;
}

function parseH265Size(rbsp: Buffer): { width: number; height: number } | undefined {
  const r = new BitReader(rbsp);
  r.skip(16);
  r.skip(4);
  const maxSubLayersMinus1 = r.bits(3);
  r.skip(1);
  r.skip(96); // general profile_tier_level
  const profilePresent: number[] = [];
  const levelPresent: number[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    profilePresent.push(r.bit());
    levelPresent.push(r.bit());
  }
  if (maxSubLayersMinus1 > 0) r.skip(2 * (8 - maxSubLayersMinus1));
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (profilePresent[i]) r.skip(88);
    if (levelPresent[i]) r.skip(8);
  }
  r.ue(); // sps id
  const chromaFormat = r.ue();
  if (chromaFormat === 3) r.skip(1);
  let width = r.ue();
  let height = r.ue();
  if (r.bit()) {
    const [l, rt, t, b] = [r.ue(), r.ue(), r.ue(), r.ue()];
    const subW = chromaFormat === 1 || chromaFormat === 2 ? 2 : 1;
    const subH = chromaFormat === 1 ? 2 : 1;
    width -= (l + rt) * subW;
    height -= (t + b) * subH;
  }
  return width > 0 && height > 0 ? { width, height } : undefined;
}
