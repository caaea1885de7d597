import { mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  EncodedAudioPacketSource,
  EncodedPacket,
  EncodedVideoPacketSource,
  HlsOutputFormat,
  MpegTsOutputFormat,
  NullTarget,
  Output,
  PathedTarget,
} from 'mediabunny';
import { retainAccessUnit, type AccessUnit, type MediaSink } from './access-unit.ts';
import { findNalUnits } from './annexb.ts';
import { parseH264Sps, parseH265Sps } from './sps-parser.ts';

export const HLS_PLAYLIST = 'hls.m3u8';

/** What a stream needs from its HLS producer (mediabunny-based HlsSegmenter or NativeHlsSegmenter). */
export interface LiveHlsSegmenter extends MediaSink {
  /** The current media playlist, null before the first segment. */
  readonly playlist: string | null;
  /** A segment already listed but not yet on disk, as the buffers to send in order. */
  pendingSegment(name: string): Buffer[] | undefined;
  /** The source stopped: write the last segment and end the playlist. */
  finish(): Promise<void>;
  /** Stop and remove the segment directory. */
  destroy(): Promise<void>;
}

export interface HlsSegmenterOptions {
  /** Directory of this stream's segments; created on the first key frame. */
  dir: string;
  /** Target segment length; segments are cut at key frames. */
  segmentSeconds: number;
  /** Segments kept in the live playlist; older ones are deleted from disk. */
  playlistSize: number;
  logger: Logger;
  /** Longest wait for AAC after the first key frame before starting video-only. */
  audioWaitMs?: number;
  /** Units queued behind mediabunny before new ones are dropped (a stalled disk must not eat memory). */
  maxQueue?: number;
}

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/**
 * Live HLS (MPEG-TS segments + sliding playlist) of one stream, muxed in-process by mediabunny.
 * H.264/H.265 with AAC; G.711 does not fit in TS and is left out. The playlist is served from memory
 * (it is rewritten whole, so a reader never sees half a file); segments are read from disk.
 */
export class HlsSegmenter implements LiveHlsSegmenter {
  readonly #o: Required<HlsSegmenterOptions>;
  #output: Output | null = null;
  #video: EncodedVideoPacketSource | null = null;
  #audio: EncodedAudioPacketSource | null = null;
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #pending: AccessUnit[] = [];
  #earlyAudio: AccessUnit[] = [];
  #aacSeen: AccessUnit | null = null;
  #base = 0;
  #prevVideo: AccessUnit | null = null;
  #lastVideoDuration = 0.04;
  #playlist: string | null = null;
  #state: 'waiting' | 'running' | 'ended' | 'failed' = 'waiting';
  #dropped = 0;
  #videoFrames = 0;

  constructor(opts: HlsSegmenterOptions) {
    this.#o = { audioWaitMs: 1000, maxQueue: 3000, ...opts };
  }

  /** The current media playlist, or null before the first segment. */
  get playlist(): string | null {
    return this.#playlist;
  }

  get ended(): boolean {
    return this.#state === 'ended';
  }

  get stats(): { videoFrames: number; dropped: number; state: string } {
    return { videoFrames: this.#videoFrames, dropped: this.#dropped, state: this.#state };
  }

  input(unit: AccessUnit): void {
    if (unit.kind === 'audio' && unit.codec !== 'aac') return;
    // mediabunny muxes asynchronously and this segmenter holds the previous frame: own copies
    const au = retainAccessUnit(unit);
    if (this.#state === 'waiting') {
      this.#waitForTracks(au);
      return;
    }
    if (this.#state !== 'running') return;
    this.#feed(au);
  }

  #waitForTracks(au: AccessUnit): void {
    if (au.kind === 'audio') {
      this.#aacSeen ??= au;
      if (this.#pending.length > 0) this.#pending.push(au);
      else {
        // PS demuxers finish a video frame only when the next pack arrives: audio of the same instant comes first
        this.#earlyAudio.push(au);
        if (this.#earlyAudio.length > 64) this.#earlyAudio.shift();
      }
    } else if (this.#pending.length > 0 || au.key) {
      this.#pending.push(au);
    }
    const first = this.#pending[0];
    if (!first) return;
    const waited = ((au.dts - first.dts) / 90) >= this.#o.audioWaitMs;
    if (this.#aacSeen !== null || waited) this.#start();
  }

  #start(): void {
    const first = this.#pending[0]!;
    const info = this.#videoInfo(first);
    if (!info) {
      this.#pending.shift();
      while (this.#pending.length > 0 && !(this.#pending[0]!.kind === 'video' && this.#pending[0]!.key)) this.#pending.shift();
      return;
    }
    const audioAu = this.#aacSeen;
    this.#state = 'running';
    this.#base = first.dts;
    const dir = this.#o.dir;
    const output = new Output({
      format: new HlsOutputFormat({
        // TS packets are collected here and written once per segment (see #onSegment)
        segmentFormat: new MpegTsOutputFormat({ onPacket: (data) => this.#segmentPackets.push(data) }),
        targetDuration: this.#o.segmentSeconds,
        live: true,
        maxLiveSegmentCount: this.#o.playlistSize,
        getPlaylistPath: () => HLS_PLAYLIST,
        getSegmentPath: (s) => `seg-${s.n}.ts`,
        onPlaylist: (text) => {
          this.#playlist = text;
        },
        onSegment: (_target, info) => this.#onSegment(`seg-${info.n}.ts`),
        onSegmentPopped: (path) => {
          this.#unwritten.delete(path);
          // queued behind the segment's own write, or the write would recreate it
          this.#writes = this.#writes.then(() => unlink(join(dir, path)).catch(() => {}));
        },
      }),
      // playlists live in memory (served atomically); only segments go to disk
      target: new PathedTarget('master.m3u8', (req) =>
        // mediabunny's file targets copy every 188-byte write; bench/media-remux.ts measured them 3x slower than the muxing
        new NullTarget(),
      ),
    });
    this.#output = output;
    this.#video = new EncodedVideoPacketSource(first.codec === 'h265' ? 'hevc' : 'avc');
    output.addVideoTrack(this.#video, { frameRate: 25 });
    let audioConfig: { sampleRate: number; numberOfChannels: number } | null = null;
    if (audioAu) {
      audioConfig = adtsConfig(audioAu.data);
      if (audioConfig) {
        this.#audio = new EncodedAudioPacketSource('aac');
        output.addAudioTrack(this.#audio);
      }
    }
    const videoMeta = { decoderConfig: { codec: info.codecString, codedWidth: info.width, codedHeight: info.height } };
    const audioMeta = audioConfig ? { decoderConfig: { codec: 'mp4a.40.2', ...audioConfig } } : undefined;
    this.#enqueue(async () => {
      await mkdir(dir, { recursive: true });
      await output.start();
    }, true);
    this.#firstVideoMeta = videoMeta;
    this.#firstAudioMeta = audioMeta;
    const pending = [...this.#earlyAudio.filter((a) => a.dts >= first.dts), ...this.#pending];
    this.#pending = [];
    this.#earlyAudio = [];
    for (const au of pending) this.#feed(au);
  }

  #segmentPackets: Uint8Array[] = [];
  /** segments cut but not yet on disk: served from here meanwhile */
  readonly #unwritten = new Map<string, Buffer>();
  #writes: Promise<void> = Promise.resolve();

  #onSegment(name: string): void {
    this.#unwritten.set(name, Buffer.concat(this.#segmentPackets));
    this.#segmentPackets = [];
    const path = join(this.#o.dir, name);
    this.#writes = this.#writes.then(async () => {
      // looked up now, not captured: a segment that left the playlist before a slow disk got to it is let go
      const data = this.#unwritten.get(name);
      if (!data) return;
      try {
        await writeFile(`${path}.part`, data);
        await rename(`${path}.part`, path);
      } catch (err) {
        this.#o.logger.warn({ err, path }, 'HLS segment write failed');
      }
      this.#unwritten.delete(name);
    });
  }

  /** A segment that is cut but not written to disk yet (HTTP serves it from memory). */
  pendingSegment(name: string): Buffer[] | undefined {
    const b = this.#unwritten.get(name);
    return b ? [b] : undefined;
  }

  #firstVideoMeta: { decoderConfig: { codec: string; codedWidth: number; codedHeight: number } } | undefined;
  #firstAudioMeta: { decoderConfig: { codec: string; sampleRate: number; numberOfChannels: number } } | undefined;

  #videoInfo(au: AccessUnit): { codecString: string; width: number; height: number } | null {
    for (const nal of findNalUnits(au.data)) {
      if (au.codec === 'h264' && (nal[0]! & 0x1f) === 7) return parseH264Sps(nal);
      if (au.codec === 'h265' && ((nal[0]! >> 1) & 0x3f) === 33) return parseH265Sps(nal);
    }
    return null;
  }

  #feed(au: AccessUnit): void {
    if (au.kind === 'video') {
      const prev = this.#prevVideo;
      this.#prevVideo = au;
      if (prev) {
        const d = (au.dts - prev.dts) / 90000;
        if (d > 0 && d < 10) this.#lastVideoDuration = d;
        this.#addVideo(prev, this.#lastVideoDuration);
      }
    } else if (this.#audio) {
      this.#addAudio(au);
    }
  }

  #addVideo(au: AccessUnit, duration: number): void {
    const source = this.#video!;
    const packet = new EncodedPacket(au.data, au.key ? 'key' : 'delta', Math.max(0, (au.pts - this.#base) / 90000), duration);
    const meta = this.#firstVideoMeta;
    this.#firstVideoMeta = undefined;
    this.#videoFrames++;
    this.#enqueue(() => source.add(packet, meta));
  }

  #addAudio(au: AccessUnit): void {
    const source = this.#audio!;
    const d = au.data;
    let off = 0;
    let ts = (au.dts - this.#base) / 90000;
    while (off + 7 <= d.length) {
      const len = ((d[off + 3]! & 3) << 11) | (d[off + 4]! << 3) | (d[off + 5]! >> 5);
      const rate = AAC_RATES[(d[off + 2]! >> 2) & 0xf];
      if (d[off] !== 0xff || len < 7 || off + len > d.length || !rate) return;
      const dur = 1024 / rate;
      if (ts >= 0) {
        const packet = new EncodedPacket(d.subarray(off, off + len), 'key', ts, dur);
        const meta = this.#firstAudioMeta;
        this.#firstAudioMeta = undefined;
        this.#enqueue(() => source.add(packet, meta));
      }
      ts += dur;
      off += len;
    }
  }

  #enqueue(step: () => Promise<void>, mustRun = false): void {
    if (!mustRun && this.#queued >= this.#o.maxQueue) {
      if (this.#dropped++ % 100 === 0) this.#o.logger.warn({ dir: this.#o.dir }, 'HLS muxer falls behind: dropping units');
      return;
    }
    this.#queued++;
    this.#chain = this.#chain.then(async () => {
      this.#queued--;
      if (this.#state === 'failed') return;
      try {
        await step();
      } catch (err) {
        this.#state = 'failed';
        this.#o.logger.error({ err, dir: this.#o.dir }, 'HLS muxing failed; HLS stopped for this stream');
      }
    });
  }

  /** Writes the last segment and ends the playlist (#EXT-X-ENDLIST): the source has stopped. */
  async finish(): Promise<void> {
    if (this.#state !== 'running') {
      if (this.#state === 'waiting') this.#state = 'ended';
      return;
    }
    const last = this.#prevVideo;
    this.#prevVideo = null;
    if (last) this.#addVideo(last, this.#lastVideoDuration);
    const output = this.#output!;
    this.#enqueue(() => output.finalize(), true);
    this.#state = 'ended';
    await this.#chain;
    await this.#writes;
  }

  close(): void {
    void this.destroy();
  }

  /** Stops muxing and removes the segment directory. */
  async destroy(): Promise<void> {
    const wasRunning = this.#state === 'running';
    this.#state = 'ended';
    await this.#chain;
    if (wasRunning && this.#output && this.#output.state !== 'finalized' && this.#output.state !== 'canceled') {
      await this.#output.cancel().catch(() => {});
    }
    this.#playlist = null;
    this.#unwritten.clear();
    await this.#writes;
    // close() does not wait for this: a failure must not become an unhandled rejection
    await rm(this.#o.dir, { recursive: true, force: true }).catch((err: unknown) => this.#o.logger.warn({ err, dir: this.#o.dir }, 'HLS directory not removed'));
  }
}

function adtsConfig(d: Buffer): { sampleRate: number; numberOfChannels: number } | null {
  if (d.length < 7 || d[0] !== 0xff || (d[1]! & 0xf0) !== 0xf0) return null;
  const rate = AAC_RATES[(d[2]! >> 2) & 0xf];
  const channels = ((d[2]! & 1) << 2) | (d[3]! >> 6);
  return rate && channels ? { sampleRate: rate, numberOfChannels: channels } : null;
}
