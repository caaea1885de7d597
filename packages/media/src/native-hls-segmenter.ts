import { close, open, writev } from 'node:fs';
import { mkdir, rm, unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { retainAccessUnit, type AccessUnit } from './access-unit.ts';
import type { LiveHlsSegmenter } from './hls-segmenter.ts';
import { TsMuxer } from './ts-muxer.ts';
import { RecyclingSlabs } from './slab-allocator.ts';

const openFd = promisify(open);
const writevFd = promisify(writev);
const closeFd = promisify(close);

/**
 * Writes the buffers to a new file. With plain descriptors: fs/promises' FileHandle objects cost
 * ~0.2 ms of main-thread time each (measured: 5 % of the main thread at 500 streams).
 */
async function writeFileOf(path: string, data: Buffer[]): Promise<void> {
  const fd = await openFd(path, 'w');
  try {
    // writev takes at most IOV_MAX (1024) buffers per call
    for (let i = 0; i < data.length; i += 1024) await writevFd(fd, data.slice(i, i + 1024));
  } finally {
    await closeFd(fd);
  }
}

export interface NativeHlsSegmenterOptions {
  dir: string;
  segmentSeconds: number;
  playlistSize: number;
  logger: Logger;
  /** Longest wait for AAC after the first key frame before starting video-only. */
  audioWaitMs?: number;
}

interface Segment {
  name: string;
  duration: number;
  /** first segment after the source paused (playback PAUSE, network stall) */
  discontinuity: boolean;
}

/**
 * A segment is cut at a key frame once this big even if its timestamps say it is short: a source
 * whose clock stands still must not grow one segment without end.
 */
const MAX_SEGMENT_BYTES = 32 * 1024 * 1024;

/** 1.4 s, as ffmpeg: keeps PTS above PCR and away from zero. */
const TS_OFFSET = 126000;

/**
 * Live HLS of one stream with our own TS muxer: segments cut at the first key frame after the target
 * duration, a sliding playlist of `playlistSize` segments (older files deleted), `#EXT-X-ENDLIST` on
 * finish(). Same surface as the mediabunny HlsSegmenter.
 */
export class NativeHlsSegmenter implements LiveHlsSegmenter {
  readonly #o: Required<NativeHlsSegmenterOptions>;
  #ts: TsMuxer | null = null;
  /** 'finished': the playlist carries ENDLIST but a key frame of a resumed source reopens it */
  #state: 'waiting' | 'running' | 'finished' | 'ended' = 'waiting';
  #discontinuity = false;
  #pending: AccessUnit[] = [];
  #earlyAudio: AccessUnit[] = [];
  #aacSeen = false;
  #base = 0;
  #parts: Buffer[] = [];
  #segBytes = 0;
  #segStart = -1;
  #lastVideoDts = 0;
  #lastVideoDuration = 3600;
  #seq = 0;
  #next = 1;
  #segments: Segment[] = [];
  #playlist: string | null = null;
  /**
   * Segments not on disk yet: served from here. Only this map holds their bytes (not the queued
   * write), so a segment that leaves the playlist before a slow disk got to it is let go: memory
   * stays bounded by the playlist whatever the disk does.
   */
  readonly #unwritten = new Map<string, { parts: Buffer[]; slabs: Buffer[] }>();
  /** the segment whose write is under way (its buffers are being read) */
  #writing: string | undefined;
  /** TS output lives in slabs reused once their segment is on disk (no allocation in steady state) */
  readonly #slabs = new RecyclingSlabs();
  /** segments whose buffers pendingSegment() handed out (an HTTP response may still read them): never reused */
  readonly #lent = new Set<string>();
  #writes: Promise<void> = Promise.resolve();
  #dirMade: Promise<unknown> | null = null;
  #videoFrames = 0;

  constructor(o: NativeHlsSegmenterOptions) {
    this.#o = { audioWaitMs: 1000, ...o };
  }

  get playlist(): string | null {
    return this.#playlist;
  }

  get ended(): boolean {
    return this.#state === 'ended' || this.#state === 'finished';
  }

  get stats(): { videoFrames: number; dropped: number; state: string } {
    return { videoFrames: this.#videoFrames, dropped: 0, state: this.#state };
  }

  pendingSegment(name: string): Buffer[] | undefined {
    const parts = this.#unwritten.get(name)?.parts;
    if (parts) this.#lent.add(name);
    return parts;
  }

  input(au: AccessUnit): void {
    if (au.kind === 'audio' && au.codec !== 'aac') return;
    if (this.#state === 'waiting') {
      if (au.kind === 'audio') {
        this.#aacSeen = true;
        if (this.#pending.length > 0) this.#pending.push(retainAccessUnit(au));
        else {
          // PS demuxers finish a video frame only when the next pack arrives: audio of the same instant comes first
          this.#earlyAudio.push(retainAccessUnit(au));
          if (this.#earlyAudio.length > 64) this.#earlyAudio.shift();
        }
      } else if (this.#pending.length > 0 || au.key) this.#pending.push(retainAccessUnit(au));
      const first = this.#pending[0];
      if (first && (this.#aacSeen || (au.dts - first.dts) / 90 >= this.#o.audioWaitMs)) this.#start(first);
      return;
    }
    if (this.#state === 'finished' && au.kind === 'video' && au.key) {
      this.#state = 'running';
      this.#discontinuity = true;
    }
    if (this.#state === 'running') this.#feed(au);
  }

  #start(first: AccessUnit): void {
    this.#state = 'running';
    this.#base = first.dts;
    this.#ts = new TsMuxer({
      video: first.codec === 'h265' ? 'h265' : 'h264',
      audio: this.#aacSeen,
      alloc: (n) => this.#slabs.alloc(n),
    });
    this.#dirMade = mkdir(this.#o.dir, { recursive: true }).catch(() => {});
    const units = [...this.#earlyAudio.filter((a) => a.dts >= first.dts), ...this.#pending];
    this.#pending = [];
    this.#earlyAudio = [];
    for (const au of units) this.#feed(au);
  }

  #feed(au: AccessUnit): void {
    const ts = this.#ts!;
    const dts = au.dts - this.#base + TS_OFFSET;
    const pts = au.pts - this.#base + TS_OFFSET;
    if (au.kind === 'video') {
      if (au.key && this.#segStart >= 0 && (au.dts - this.#segStart >= this.#o.segmentSeconds * 90000 - 4500 || this.#segBytes >= MAX_SEGMENT_BYTES)) {
        this.#cut(Math.max(au.dts, this.#segStart + 1));
      }
      if (this.#segStart < 0) {
        if (!au.key) return;
        this.#segStart = au.dts;
        this.#parts.push(ts.tables());
      }
      if (au.dts > this.#lastVideoDts && this.#videoFrames > 0) this.#lastVideoDuration = au.dts - this.#lastVideoDts;
      this.#lastVideoDts = au.dts;
      this.#videoFrames++;
      this.#push(ts.video(au.data, pts, dts, au.key));
    } else if (this.#segStart >= 0 && au.dts >= this.#base) {
      this.#push(ts.audio(au.data, pts));
    }
  }

  #push(part: Buffer): void {
    this.#parts.push(part);
    this.#segBytes += part.length;
  }

  /** Closes the current segment at `endDts` (the next segment's first video dts). */
  #cut(endDts: number): void {
    const name = `seg-${this.#next++}.ts`;
    // kept as the PES buffers they are: written with writev, never concatenated
    const data = this.#parts;
    this.#parts = [];
    this.#segBytes = 0;
    const slabs = this.#slabs.seal();
    const duration = (endDts - this.#segStart) / 90000;
    this.#segStart = -1;
    this.#unwritten.set(name, { parts: data, slabs });
    this.#writes = this.#writes.then(() => this.#write(name));
    this.#segments.push({ name, duration, discontinuity: this.#discontinuity });
    this.#discontinuity = false;
    while (this.#segments.length > this.#o.playlistSize) {
      const old = this.#segments.shift()!;
      this.#seq++;
      this.#forget(old.name);
      this.#writes = this.#writes.then(() => unlink(join(this.#o.dir, old.name)).catch(() => {}));
    }
    this.#writePlaylist(false);
  }

  async #write(name: string): Promise<void> {
    const segment = this.#unwritten.get(name);
    if (!segment) return; // left the playlist before its turn
    const path = join(this.#o.dir, name);
    this.#writing = name;
    try {
      await this.#dirMade;
      // no temporary name and rename: the playlist lives in memory and HTTP serves the segment
      // from memory until this write is done, so nobody reads a half-written file
      await writeFileOf(path, segment.parts);
    } catch (err) {
      // served from memory until it leaves the playlist; a partial file must not be served
      this.#o.logger.warn({ err, path }, 'HLS segment write failed');
      await unlink(path).catch(() => {});
      return;
    } finally {
      this.#writing = undefined;
    }
    if (this.#unwritten.get(name) === segment) this.#unwritten.delete(name);
    this.#release(name, segment.slabs);
  }

  /** A segment left the playlist: its bytes go unless they are being written (the write lets them go). */
  #forget(name: string): void {
    const segment = this.#unwritten.get(name);
    if (!segment) return;
    this.#unwritten.delete(name);
    if (this.#writing !== name) this.#release(name, segment.slabs);
  }

  /** The segment's bytes are on disk (or dropped): its slabs are reused unless a reader got them. */
  #release(name: string, slabs: Buffer[]): void {
    if (this.#lent.delete(name) || this.#state === 'ended') return;
    this.#slabs.recycle(slabs);
  }

  #writePlaylist(ended: boolean): void {
    const target = Math.max(Math.ceil(this.#o.segmentSeconds), ...this.#segments.map((s) => Math.round(s.duration)));
    let text = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:${target}\n#EXT-X-MEDIA-SEQUENCE:${this.#seq}\n#EXT-X-INDEPENDENT-SEGMENTS\n\n`;
    for (const s of this.#segments) {
      if (s.discontinuity) text += '#EXT-X-DISCONTINUITY\n';
      text += `#EXTINF:${s.duration.toFixed(3)},\n${s.name}\n`;
    }
    if (ended) text += '#EXT-X-ENDLIST\n';
    this.#playlist = text;
  }

  /**
   * Writes the last segment and ends the playlist (#EXT-X-ENDLIST): the source has stopped. If it
   * comes back (a key frame arrives), the playlist reopens after an #EXT-X-DISCONTINUITY.
   */
  async finish(): Promise<void> {
    if (this.#state !== 'running') {
      if (this.#state === 'waiting') this.#state = 'ended';
      return;
    }
    this.#state = 'finished';
    if (this.#segStart >= 0) this.#cut(this.#lastVideoDts + this.#lastVideoDuration);
    this.#writePlaylist(true);
    await this.#writes;
  }

  close(): void {
    void this.destroy();
  }

  async destroy(): Promise<void> {
    this.#state = 'ended';
    this.#playlist = null;
    this.#parts = [];
    this.#unwritten.clear();
    this.#slabs.clear();
    await this.#writes;
    // close() does not wait for this: a failure must not become an unhandled rejection
    await rm(this.#o.dir, { recursive: true, force: true }).catch((err: unknown) => this.#o.logger.warn({ err, dir: this.#o.dir }, 'HLS directory not removed'));
  }
}
