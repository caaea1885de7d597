import { parseH264Sps, parseH265Sps } from './sps-parser.ts';
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

/** Locates NAL units with their start codes (for splitting an elementary stream into access units). */
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

/** NAL units (header + payload, without start codes or trailing zeros) of an Annex-B buffer; views, not copies. */
export function findNalUnits(data: Buffer): Buffer[] {
  const nals: Buffer[] = [];
  let sc = data.indexOf(START_CODE);
  while (sc !== -1) {
    const start = sc + 3;
    const next = data.indexOf(START_CODE, start);
    let end = next === -1 ? data.length : next;
    // trailing_zero_8bits (and a 4-byte start code's leading zero) are not part of the NAL unit
    while (end > start && data[end - 1] === 0) end--;
    if (end > start) nals.push(data.subarray(start, end));
    sc = next;
  }
  return nals;
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

/** Picture size from an SPS NAL unit (header included, no start code). undefined if unreadable. */
export function parseVideoSize(codec: VideoCodec, sps: Buffer): { width: number; height: number } | undefined {
  const info = codec === 'h264' ? parseH264Sps(sps) : parseH265Sps(sps);
  return info ? { width: info.width, height: info.height } : undefined;
}
