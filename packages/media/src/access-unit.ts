export type VideoCodec = 'h264' | 'h265';
export type AudioCodec = 'aac' | 'g711a' | 'g711u';

/**
 * One coded frame, the unit handed from ingest to the outputs.
 * - video: Annex-B with start codes; key frames carry SPS/PPS[/VPS]
 * - aac: ADTS frame(s); g711: raw 8 kHz samples
 * - pts/dts: 90 kHz, 33-bit wrap already unwrapped (monotonic)
 *
 * `data` is valid only during the call that hands the unit over: units from ingest workers are
 * views of pooled blocks that are written again afterwards. Whatever keeps a unit keeps a copy
 * (retainAccessUnit).
 */
export interface AccessUnit {
  kind: 'video' | 'audio';
  codec: VideoCodec | AudioCodec;
  data: Buffer;
  pts: number;
  dts: number;
  key: boolean;
}

/** The unit with its own copy of the bytes, for holding past the call that delivered it. */
export function retainAccessUnit(au: AccessUnit): AccessUnit {
  return { ...au, data: Buffer.from(au.data) };
}

/** Downstream stage that consumes access units (FLV, HLS, recorders). */
export interface MediaSink {
  input(au: AccessUnit): void;
  close(): void;
}
