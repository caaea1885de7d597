/**
 * Reads what the outputs need from H.264 / H.265 sequence parameter sets: picture size,
 * codec strings for HLS and the fields of the HEVC decoder configuration record (FLV `hvc1`).
 */

export interface H264SpsInfo {
  width: number;
  height: number;
  profileIdc: number;
  constraintFlags: number;
  levelIdc: number;
  /** RFC 6381 codec string, e.g. `avc1.64001f` */
  codecString: string;
}

export interface H265SpsInfo {
  width: number;
  height: number;
  profileSpace: number;
  tierFlag: number;
  profileIdc: number;
  compatibilityFlags: number;
  /** 6 bytes of general constraint indicator flags */
  constraintBytes: Buffer;
  levelIdc: number;
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  maxSubLayers: number;
  temporalIdNested: boolean;
  /** RFC 6381 / ISO 14496-15 codec string, e.g. `hvc1.1.6.L93.B0` */
  codecString: string;
}

/** Drops emulation-prevention bytes (00 00 03 -> 00 00). */
export function nalToRbsp(nal: Buffer): Buffer {
  const out = Buffer.allocUnsafe(nal.length);
  let n = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i]!;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

class BitReader {
  #pos = 0;
  constructor(private readonly buf: Buffer) {}
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.buf[this.#pos >> 3];
      if (byte === undefined) throw new RangeError('parameter set truncated');
      v = v * 2 + ((byte >> (7 - (this.#pos & 7))) & 1);
      this.#pos++;
    }
    return v;
  }
  flag(): boolean {
    return this.bits(1) === 1;
  }
  ue(): number {
    let zeros = 0;
    while (this.bits(1) === 0) {
      if (++zeros > 31) throw new RangeError('bad exp-golomb code');
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
  skip(n: number): void {
    this.#pos += n;
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** Parses an H.264 SPS NAL unit (with its 1-byte header). Returns null when it is malformed. */
export function parseH264Sps(nal: Buffer): H264SpsInfo | null {
  try {
    const rbsp = nalToRbsp(nal);
    const r = new BitReader(rbsp);
    r.skip(8);
    const profileIdc = r.bits(8);
    const constraintFlags = r.bits(8);
    const levelIdc = r.bits(8);
    r.ue();
    let chromaFormatIdc = 1;
    if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profileIdc)) {
      chromaFormatIdc = r.ue();
      if (chromaFormatIdc === 3) r.skip(1);
      r.ue();
      r.ue();
      r.skip(1);
      if (r.flag()) {
        for (let i = 0; i < (chromaFormatIdc !== 3 ? 8 : 12); i++) {
          if (r.flag()) skipScalingList(r, i < 6 ? 16 : 64);
        }
      }
    }
    r.ue();
    const pocType = r.ue();
    if (pocType === 0) r.ue();
    else if (pocType === 1) {
      r.skip(1);
      r.se();
      r.se();
      const n = r.ue();
      for (let i = 0; i < n; i++) r.se();
    }
    r.ue();
    r.skip(1);
    const widthMbs = r.ue() + 1;
    const heightMapUnits = r.ue() + 1;
    const frameMbsOnly = r.flag();
    if (!frameMbsOnly) r.skip(1);
    r.skip(1);
    let cropL = 0, cropR = 0, cropT = 0, cropB = 0;
    if (r.flag()) {
      cropL = r.ue();
      cropR = r.ue();
      cropT = r.ue();
      cropB = r.ue();
    }
    const subW = chromaFormatIdc === 1 || chromaFormatIdc === 2 ? 2 : 1;
    const subH = (chromaFormatIdc === 1 ? 2 : 1) * (frameMbsOnly ? 1 : 2);
    const width = widthMbs * 16 - subW * (cropL + cropR);
    const height = (frameMbsOnly ? 1 : 2) * heightMapUnits * 16 - subH * (cropT + cropB);
    if (width <= 0 || height <= 0) return null;
    return {
      width,
      height,
      profileIdc,
      constraintFlags,
      levelIdc,
      codecString: `avc1.${hex2(profileIdc)}${hex2(constraintFlags)}${hex2(levelIdc)}`,
    };
  } catch {
    return null;
  }
}

/** Parses an H.265 SPS NAL unit (with its 2-byte header). Returns null when it is malformed. */
export function parseH265Sps(nal: Buffer): H265SpsInfo | null {
  try {
    const rbsp = nalToRbsp(nal);
    const r = new BitReader(rbsp);
    r.skip(16);
    r.skip(4);
    const maxSubLayersMinus1 = r.bits(3);
    const temporalIdNested = r.flag();
    // general_profile_tier_level is byte aligned here: bytes 3..14 of the RBSP
    const profileSpace = r.bits(2);
    const tierFlag = r.bits(1);
    const profileIdc = r.bits(5);
    const compatibilityFlags = r.bits(32);
    const constraintBytes = Buffer.from(rbsp.subarray(7, 13));
    r.skip(48);
    const levelIdc = r.bits(8);
    const subProfilePresent: boolean[] = [];
    const subLevelPresent: boolean[] = [];
    for (let i = 0; i < maxSubLayersMinus1; i++) {
      subProfilePresent.push(r.flag());
      subLevelPresent.push(r.flag());
    }
    if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.skip(2);
    for (let i = 0; i < maxSubLayersMinus1; i++) {
      if (subProfilePresent[i]) r.skip(88);
      if (subLevelPresent[i]) r.skip(8);
    }
    r.ue();
    const chromaFormatIdc = r.ue();
    if (chromaFormatIdc === 3) r.skip(1);
    const picW = r.ue();
    const picH = r.ue();
    let cropL = 0, cropR = 0, cropT = 0, cropB = 0;
    if (r.flag()) {
      cropL = r.ue();
      cropR = r.ue();
      cropT = r.ue();
      cropB = r.ue();
    }
    const bitDepthLuma = r.ue() + 8;
    const bitDepthChroma = r.ue() + 8;
    const subW = chromaFormatIdc === 1 || chromaFormatIdc === 2 ? 2 : 1;
    const subH = chromaFormatIdc === 1 ? 2 : 1;
    const width = picW - subW * (cropL + cropR);
    const height = picH - subH * (cropT + cropB);
    if (width <= 0 || height <= 0) return null;

    // codec string: compatibility flags bit-reversed, trailing zero constraint bytes dropped
    let reversed = 0;
    for (let i = 0; i < 32; i++) if ((compatibilityFlags >>> i) & 1) reversed |= 1 << (31 - i);
    const constraints = [...constraintBytes];
    while (constraints.length > 0 && constraints[constraints.length - 1] === 0) constraints.pop();
    const space = profileSpace === 0 ? '' : String.fromCharCode(64 + profileSpace);
    const codecString = [
      `hvc1.${space}${profileIdc}`,
      (reversed >>> 0).toString(16),
      `${tierFlag ? 'H' : 'L'}${levelIdc}`,
      ...constraints.map((c) => c.toString(16).toUpperCase()),
    ].join('.');
    return {
      width,
      height,
      profileSpace,
      tierFlag,
      profileIdc,
      compatibilityFlags,
      constraintBytes,
      levelIdc,
      chromaFormatIdc,
      bitDepthLuma,
      bitDepthChroma,
      maxSubLayers: maxSubLayersMinus1 + 1,
      temporalIdNested,
      codecString,
    };
  } catch {
    return null;
  }
}
