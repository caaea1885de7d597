import pino, { type Logger } from 'pino';
import type { AccessUnit, AudioCodec, VideoCodec } from './access-unit.ts';
import { detectVideoCodec, isKeyAccessUnit, isVcl } from './annexb.ts';
import { ByteQueue } from './byte-queue.ts';
import { SlabAllocator } from './slab-allocator.ts';

const TWO_32 = 2 ** 32;
const TWO_33 = 2 ** 33;
const PACK_START = Buffer.from([0, 0, 1, 0xba]);
const START_CODE = Buffer.from([0, 0, 1]);
/** A frame larger than this is garbage, not video. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** How far to look past a PSM whose length fields disagree before giving up waiting. */
const PSM_LOOKAHEAD = 4096;

/** Frames are short-lived (the outputs copy them): one allocator for every demuxer of the thread. */
const frameSlabs = new SlabAllocator();
/**
 * The first `00 00 01 xx` at or after `from` with xx >= 0xB9 (pack, system header, PSM, PES: never
 * inside H.264/H.265 Annex-B data, whose NAL headers are < 0x80), or one whose xx is past the end;
 * -1 if none.
 */
function findSystemStartCode(buf: Buffer, from: number): number {
  let at = buf.indexOf(START_CODE, from);
  while (at !== -1 && at + 3 < buf.length && buf[at + 3] < 0xb9) at = buf.indexOf(START_CODE, at + 3);
  return at;
}

/** The bytes of a frame's views in one buffer (a view itself when there is only one). */
function joinViews(views: Buffer[], bytes: number): Buffer {
  if (views.length === 1) return views[0];
  const out = frameSlabs.alloc(bytes);
  let o = 0;
  for (const v of views) {
    out.set(v, o);
    o += v.length;
  }
  return out;
}

const VIDEO_TYPES: Record<number, VideoCodec> = { 0x1b: 'h264', 0x24: 'h265' };
const AUDIO_TYPES: Record<number, AudioCodec> = { 0x0f: 'aac', 0x90: 'g711a', 0x91: 'g711u' };

export interface PsDemuxerOptions {
  /**
   * Input chunks are valid only during input() (the caller reuses their memory: the demuxer copies
   * what it holds, a frame in progress into a buffer of its own) and emitted frames only during
   * onAccessUnit (that buffer is reused for the next frame). For a caller that copies every frame
   * anyway, such as an ingest worker: saves allocating ~ the stream's bitrate in ArrayBuffers,
   * which V8 pays for with full collections.
   */
  transient?: boolean;
}

export interface PsDemuxerStats {
  frames: number;
  videoFrames: number;
  audioFrames: number;
  /** times the parser lost sync and searched for the next pack header */
  resyncs: number;
  /** frames dropped because they were cut by a gap or unusable */
  droppedFrames: number;
  videoCodec?: VideoCodec;
  audioCodec?: AudioCodec;
}

interface PesState {
  kind: 'video' | 'audio';
  /** payload bytes still to come; -1 = unbounded PES (length 0): ends at the next start code */
  remaining: number;
  /** video: the frame's byte count when this PES's payload began */
  frameStart: number;
}

interface PendingFrame {
  pts: number;
  dts: number;
  /** the bytes after the owned ones */
  views: Buffer[];
  bytes: number;
  /** transient input: the first `owned` bytes are in the demuxer's own buffer (its store) */
  owned: number;
}

/** Unwraps a 33-bit 90 kHz clock into a monotonic number. */
class ClockUnwrapper {
  #last?: number;
  #offset = 0;
  unwrap(raw: number): number {
    if (this.#last !== undefined) {
      const d = raw - this.#last;
      if (d < -TWO_32) this.#offset += TWO_33;
      else if (d > TWO_32) this.#offset -= TWO_33;
    }
    this.#last = raw;
    return raw + this.#offset;
  }
}

/**
 * MPEG-2 program stream (GB/T 28181 flavour) byte stream in, access units out.
 * A video frame is emitted when a video PES with a new PTS begins (or on flush); PES without
 * PTS, or with the same PTS, continue the current frame. Audio PES are emitted one each.
 * Never throws on bad input: it counts a resync and searches for the next pack header.
 */
export class PsDemuxer {
  readonly stats: PsDemuxerStats = { frames: 0, videoFrames: 0, audioFrames: 0, resyncs: 0, droppedFrames: 0 };
  readonly #onAccessUnit: (au: AccessUnit) => void;
  readonly #log: Logger;
  readonly #q = new ByteQueue();
  #resyncing = false;
  #skipRemaining = 0;
  #pes?: PesState;
  /**
   * A video PES just ended where its length field said, at this offset of the frame in progress.
   * Whether the length was true is checked once the next 4 bytes are here (they must open a start
   * code): checking when a lie shows up costs nothing per byte, where searching every PES payload
   * for a hidden pack start cost 15 % of an ingest thread.
   */
  #videoPesEnd = -1;
  #video?: PendingFrame;
  #audio?: PendingFrame;
  #videoId = -1;
  #audioId = -1;
  /** stream_id -> stream_type from the last PSM */
  #psm = new Map<number, number>();
  #detectedVideo?: VideoCodec;
  #videoCodecSettled = false;
  #videoHasPts = false;
  #videoClock = new ClockUnwrapper();
  #videoDtsClock = new ClockUnwrapper();
  #audioClock = new ClockUnwrapper();
  #lastAudioPts = 0;
  #warned = new Set<string>();
  readonly #transient: boolean;
  /** transient input: where the video and audio frames in progress are kept between inputs */
  #videoStore: Buffer = Buffer.alloc(0);
  #audioStore: Buffer = Buffer.alloc(0);

  constructor(onAccessUnit: (au: AccessUnit) => void, logger?: Logger, o: PsDemuxerOptions = {}) {
    this.#onAccessUnit = onAccessUnit;
    this.#log = logger ?? pino({ level: 'silent' });
    this.#transient = o.transient ?? false;
  }

  input(chunk: Buffer): void {
    this.#q.push(chunk);
    try {
      this.#drain();
    } catch (err) {
      // A parser bug must not take the stream (or the process) down: drop state and resync.
      this.#log.error({ err }, 'ps demuxer failed; resynchronising');
      this.#lostSync('internal error', false);
    }
    if (this.#transient) this.#ownInput();
  }

  /** Transient input: copy every byte still referenced before the caller reuses the chunk. */
  #ownInput(): void {
    this.#q.own();
    if (this.#video) this.#videoStore = this.#own(this.#video, this.#videoStore);
    if (this.#audio) this.#audioStore = this.#own(this.#audio, this.#audioStore);
  }

  /** Moves the frame's views into `store` after its owned bytes (grown when short); returns the store. */
  #own(f: PendingFrame, store: Buffer): Buffer {
    if (f.views.length === 0) return store;
    if (store.length < f.bytes) {
      const grown = Buffer.allocUnsafeSlow(Math.max(f.bytes, 2 * store.length, 16 * 1024));
      store.copy(grown, 0, 0, f.owned);
      store = grown;
    }
    let o = f.owned;
    for (const v of f.views) {
      store.set(v, o);
      o += v.length;
    }
    // no view of the store is made per packet (this runs for every one): see #viewsOf
    f.views.length = 0;
    f.owned = f.bytes;
    return store;
  }

  /** All of the frame's bytes as views, its owned ones first. */
  #viewsOf(f: PendingFrame): Buffer[] {
    if (f.owned === 0) return f.views;
    return [(f === this.#video ? this.#videoStore : this.#audioStore).subarray(0, f.owned), ...f.views];
  }

  /** The frame's bytes in one buffer (valid until the next input in transient mode). */
  #bytesOf(f: PendingFrame, kind: 'video' | 'audio'): Buffer {
    if (!this.#transient || (f.owned === 0 && f.views.length === 1)) return joinViews(f.views, f.bytes);
    // the last packet's bytes are appended to those the store holds: one copy less than a join
    if (kind === 'video') return (this.#videoStore = this.#own(f, this.#videoStore)).subarray(0, f.bytes);
    return (this.#audioStore = this.#own(f, this.#audioStore)).subarray(0, f.bytes);
  }

  /** End of input: emits the frame in progress if it is complete. */
  flush(): void {
    try {
      this.#settleVideoPes();
      if (this.#pes?.remaining === -1) {
        this.#takeUnbounded(true);
      }
      if (this.#pes) {
        this.#dropPartial();
      } else {
        this.#emitVideo();
      }
      this.#q.clear();
    } catch (err) {
      this.#log.error({ err }, 'ps demuxer flush failed');
    }
  }

  /**
   * Bytes were lost before the next input (RTP sequence gap). The frame in progress is emitted
   * when `previousComplete` (the last packet before the gap ended a frame) and the parser sits
   * between units, else dropped; parsing restarts at the next pack header.
   */
  discontinuity(previousComplete: boolean): void {
    try {
      this.#settleVideoPes();
    } catch (err) {
      this.#log.error({ err }, 'ps demuxer failed; resynchronising');
      this.#lostSync('internal error', false);
    }
    if (this.#pes || !previousComplete) this.#dropPartial();
    else this.#emitVideo();
    this.#q.clear();
    this.#skipRemaining = 0;
    this.#resyncing = true;
  }

  #dropPartial(): void {
    if (this.#video) this.stats.droppedFrames++;
    if (this.#pes?.kind === 'audio' && this.#audio) this.stats.droppedFrames++;
    this.#video = undefined;
    this.#audio = undefined;
    this.#pes = undefined;
    this.#videoPesEnd = -1;
  }

  #lostSync(why: string, keepPending = true): void {
    this.stats.resyncs++;
    this.#log.debug({ why }, 'ps demuxer lost sync');
    // Between units the frame in progress got all the PES bytes it announced: keep it.
    this.#videoPesEnd = -1;
    if (keepPending && !this.#pes) this.#emitVideo();
    else this.#dropPartial();
    this.#skipRemaining = 0;
    this.#resyncing = true;
  }

  #drain(): void {
    const q = this.#q;
    for (;;) {
      if (this.#skipRemaining > 0) {
        let n = Math.min(this.#skipRemaining, q.length);
        // A pack start inside a unit we skip means its length lied: stop there, not 64 KB later.
        const at = q.findStartCode(n, 0xba, 0xba);
        if (at !== -1) {
          q.skip(at);
          this.#skipRemaining = 0;
          this.stats.resyncs++;
          continue;
        }
        // a pack start may straddle the bytes not received yet: hold back its first bytes
        if (n === q.length && n < this.#skipRemaining) n -= q.startCodePrefixAtEnd();
        q.skip(n);
        this.#skipRemaining -= n;
        if (this.#skipRemaining > 0) return;
      }
      if (this.#pes) {
        if (!this.#takePesPayload()) return;
        continue;
      }
      if (this.#videoPesEnd !== -1 && !this.#checkVideoPesEnd(false)) return;
      if (this.#resyncing && !this.#findPack()) return;
      if (q.length < 4) return;
      if (q.byte(0) !== 0 || q.byte(1) !== 0 || q.byte(2) !== 1) {
        this.#lostSync('no start code');
        continue;
      }
      const id = q.byte(3);
      if (id === 0xba) {
        if (!this.#packHeader()) return;
      } else if (id === 0xb9) {
        q.skip(4); // program end
      } else if (id < 0xb9) {
        this.#lostSync(`start code 0x${id.toString(16)}`);
      } else {
        if (q.length < 6) return;
        const len = (q.byte(4) << 8) | q.byte(5);
        if (id === 0xbc) {
          if (!this.#programStreamMap(len)) return;
        } else if ((id >= 0xe0 && id <= 0xef) || (id >= 0xc0 && id <= 0xdf)) {
          if (!this.#pesHeader(id, len)) return;
        } else {
          // system header, private 1/2, padding, ECM/EMM, directory...: not ours
          q.skip(6);
          this.#skipRemaining = len;
        }
      }
    }
  }

  /** Drops bytes up to the next pack header; false when more data is needed. */
  #findPack(): boolean {
    const q = this.#q;
    if (q.length < 4) return false;
    const buf = q.coalesce();
    const at = buf.indexOf(PACK_START);
    if (at === -1) {
      q.skip(buf.length - 3);
      return false;
    }
    q.skip(at);
    this.#resyncing = false;
    return true;
  }

  #packHeader(): boolean {
    const q = this.#q;
    if (q.length < 14) return false;
    const b4 = q.byte(4);
    if ((b4 & 0xc0) === 0x40) {
      const len = 14 + (q.byte(13) & 0x07);
      if (q.length < len) return false;
      q.skip(len);
    } else if ((b4 & 0xf0) === 0x20) {
      q.skip(12); // MPEG-1 pack header
    } else {
      q.skip(4);
      this.#lostSync('bad pack header');
    }
    return true;
  }

  /**
   * PSM. Devices send PSMs whose outer length disagrees with the lengths inside; the end is
   * whichever candidate is followed by a start code, else the next start code after the PSM.
   */
  #programStreamMap(len: number): boolean {
    const q = this.#q;
    if (q.length < 12) return false;
    const psiLen = (q.byte(8) << 8) | q.byte(9);
    const declaredEnd = 6 + len;
    let mapLen = -1;
    if (q.length >= 12 + psiLen) mapLen = (q.byte(10 + psiLen) << 8) | q.byte(11 + psiLen);
    else if (12 + psiLen > declaredEnd && q.length >= Math.min(declaredEnd + 4, PSM_LOOKAHEAD)) mapLen = 0;
    else return false;
    const contentEnd = 16 + psiLen + mapLen;
    let end = -1;
    if (contentEnd === declaredEnd) {
      if (q.length < declaredEnd) return false;
      end = declaredEnd;
    } else {
      const candidates = [...new Set([declaredEnd, contentEnd])].sort((a, b) => a - b);
      for (const c of candidates) {
        if (q.length < c + 4) {
          if (q.length < PSM_LOOKAHEAD) return false;
          continue;
        }
        if (q.byte(c) === 0 && q.byte(c + 1) === 0 && q.byte(c + 2) === 1 && q.byte(c + 3) >= 0xb9) {
          end = c;
          break;
        }
      }
      if (end === -1) {
        const buf = q.coalesce();
        const at = findSystemStartCode(buf, 6);
        if (at === -1 || at + 3 >= buf.length) {
          if (buf.length < PSM_LOOKAHEAD) return false;
          q.skip(4);
          this.#lostSync('PSM without end');
          return true;
        }
        end = at;
      }
      this.#warnOnce('psm-length', { declaredEnd, contentEnd, end }, 'PSM lengths disagree with its content');
    }
    const psm = q.peek(end);
    const map = new Map<number, number>();
    const mapEnd = 12 + psiLen + Math.max(mapLen, 0);
    const entriesEnd = mapEnd <= end ? mapEnd : Math.max(12 + psiLen, end - 4);
    for (let p = 12 + psiLen; p + 4 <= entriesEnd; ) {
      const type = psm[p];
      const id = psm[p + 1];
      const infoLen = (psm[p + 2] << 8) | psm[p + 3];
      map.set(id, type);
      // an es_info_length running past the map is a lie: read the next entry right after
      p += p + 4 + infoLen <= entriesEnd ? 4 + infoLen : 4;
    }
    if (![...map].some(([id, type]) => isMediaStreamId(id) && isKnownType(type))) {
      // Lengths too broken to walk the entries: look for (stream_type, stream_id) pairs instead.
      for (let p = 10; p + 1 < end; p++) if (isKnownType(psm[p]) && isMediaStreamId(psm[p + 1])) map.set(psm[p + 1], psm[p]);
    }
    if (map.size > 0) {
      this.#psm = map;
      // the PSM names the streams to follow (a device may also send e.g. 0xE2 sub-streams)
      const videoId = [...map].find(([id, t]) => id >= 0xe0 && VIDEO_TYPES[t] !== undefined)?.[0];
      const audioId = [...map].find(([id, t]) => id >= 0xc0 && id <= 0xdf && AUDIO_TYPES[t] !== undefined)?.[0];
      if (videoId !== undefined) this.#videoId = videoId;
      if (audioId !== undefined) this.#audioId = audioId;
    }
    q.skip(end);
    return true;
  }

  #pesHeader(id: number, len: number): boolean {
    const q = this.#q;
    const kind = id >= 0xe0 ? 'video' : 'audio';
    if (q.length < 9) return false;
    const b6 = q.byte(6);
    if ((b6 & 0xc0) !== 0x80) {
      // not an MPEG-2 PES header: skip the packet as declared
      q.skip(6);
      this.#skipRemaining = len;
      this.#warnOnce('mpeg1-pes', { id }, 'PES without MPEG-2 header skipped');
      return true;
    }
    const hdrLen = q.byte(8);
    if (q.length < 9 + hdrLen) return false;
    const payloadLen = len === 0 ? -1 : 6 + len - 9 - hdrLen;
    if (payloadLen < -1) {
      q.skip(4);
      this.#lostSync('PES header longer than PES');
      return true;
    }
    // Only the first video and first audio stream are demuxed.
    const ownId = kind === 'video' ? this.#videoId : this.#audioId;
    if (ownId !== -1 && ownId !== id) {
      q.skip(6);
      this.#skipRemaining = len;
      return true;
    }
    if (kind === 'video') this.#videoId = id;
    else this.#audioId = id;

    const hdr = q.peek(9 + hdrLen);
    const flags = hdr[7] >> 6;
    let pts: number | undefined;
    let dts: number | undefined;
    if (flags >= 2 && hdrLen >= 5) pts = readTimestamp(hdr, 9);
    if (flags === 3 && hdrLen >= 10) dts = readTimestamp(hdr, 14);

    // Streams that never carry a PTS: frames are told apart by the NAL unit opening each PES.
    let auStartWithoutPts = false;
    if (kind === 'video' && pts === undefined && !this.#videoHasPts && this.#video) {
      const need = payloadLen === -1 ? 8 : Math.min(8, payloadLen);
      if (q.length < 9 + hdrLen + need) return false;
      auStartWithoutPts = this.#opensAccessUnit(q.peek(9 + hdrLen + need).subarray(9 + hdrLen)) && this.#pendingHasPicture();
    }
    q.skip(9 + hdrLen);

    if (kind === 'video') {
      if (pts !== undefined) {
        this.#videoHasPts = true;
        const upts = this.#videoClock.unwrap(pts);
        if (this.#video && this.#video.pts !== upts) this.#emitVideo();
        if (!this.#video) {
          const udts = dts !== undefined ? this.#videoDtsClock.unwrap(dts) : upts;
          this.#video = { pts: upts, dts: udts, views: [], bytes: 0, owned: 0 };
        }
      } else if (!this.#video || auStartWithoutPts) {
        this.#warnOnce('video-no-pts', {}, 'video PES without PTS: timestamps made up at 25 fps');
        const next = this.#video ? this.#video.pts + 3600 : 0;
        this.#emitVideo();
        this.#video = { pts: next, dts: next, views: [], bytes: 0, owned: 0 };
      }
    } else {
      const upts = pts !== undefined ? this.#audioClock.unwrap(pts) : this.#lastAudioPts;
      this.#lastAudioPts = upts;
      this.#audio = { pts: upts, dts: upts, views: [], bytes: 0, owned: 0 };
    }
    this.#pes = { kind, remaining: payloadLen, frameStart: kind === 'video' ? this.#video!.bytes : 0 };
    if (payloadLen === 0) this.#endPes();
    return true;
  }

  /** Moves PES payload bytes into the frame in progress; false when more data is needed. */
  #takePesPayload(): boolean {
    const pes = this.#pes!;
    if (pes.remaining === -1) return this.#takeUnbounded(false);
    const frame = pes.kind === 'video' ? this.#video! : this.#audio!;
    const n = Math.min(pes.remaining, this.#q.length);
    if (n > 0) {
      this.#q.take(n, frame.views);
      frame.bytes += n;
      pes.remaining -= n;
    }
    if (pes.remaining > 0) return false;
    this.#endPes();
    return true;
  }

  /**
   * Whether the video PES that just ended was as long as it said: the next bytes open a start code.
   * False when more data is needed (`atEnd`: no more is coming).
   */
  #checkVideoPesEnd(atEnd: boolean): boolean {
    const q = this.#q;
    if (q.length < 4 && !atEnd) return false;
    const from = this.#videoPesEnd;
    this.#videoPesEnd = -1;
    const isStart = q.length >= 4 && q.byte(0) === 0 && q.byte(1) === 0 && q.byte(2) === 1 && q.byte(3) >= 0xb9;
    // Not a start code next: the length lied if the payload hides one; if not, parsing resyncs as
    // it does on any garbage.
    if (!isStart) this.#cutAtHiddenStartCode(from);
    return true;
  }

  /**
   * A system start code (findSystemStartCode) in the video frame's bytes after `from` means a PES
   * length lied or bytes went missing: the frame is cut there and the bytes after it are queued
   * again. False if there is none.
   */
  #cutAtHiddenStartCode(from: number): boolean {
    const frame = this.#video;
    if (!frame) return false;
    const q = this.#q;
    const end = frame.bytes;
    // a start code may straddle the frame's end: look 3 bytes into what follows
    const joined = Buffer.concat([...this.#viewsOf(frame), q.peek(Math.min(3, q.length))]);
    const at = findSystemStartCode(joined, from);
    if (at === -1 || at >= end || at + 3 >= joined.length) return false;
    frame.views = [joined.subarray(0, at)];
    frame.bytes = at;
    frame.owned = 0;
    q.unshift(joined.subarray(at, end));
    this.stats.resyncs++;
    this.#log.debug({ missing: end - at }, 'video PES shorter than its length field');
    return true;
  }

  /**
   * No more bytes come for now (end of input, or a gap): settles video PES lengths still in doubt.
   * One cut short by a hidden start code ended there; the bytes queued again may hold more.
   */
  #settleVideoPes(): void {
    for (;;) {
      if (this.#videoPesEnd !== -1) {
        this.#checkVideoPesEnd(true);
      } else {
        const pes = this.#pes;
        if (pes?.kind !== 'video' || pes.remaining <= 0 || !this.#cutAtHiddenStartCode(pes.frameStart)) return;
        this.#pes = undefined;
      }
      this.#drain();
    }
  }

  /** Unbounded video PES (length 0): the payload ends at the next pack/system/PES start code. */
  #takeUnbounded(atEnd: boolean): boolean {
    const frame = this.#pes!.kind === 'video' ? this.#video! : this.#audio!;
    const buf = this.#q.coalesce();
    const at = findSystemStartCode(buf, 0);
    let n: number;
    if (at !== -1 && at + 3 < buf.length) n = at;
    else n = atEnd ? buf.length : Math.max(0, buf.length - 3);
    this.#q.take(n, frame.views);
    frame.bytes += n;
    if (at === -1 || at + 3 >= buf.length) {
      if (!atEnd) return this.#checkSize(frame);
    }
    this.#endPes();
    return true;
  }

  #checkSize(frame: PendingFrame): false {
    if (frame.bytes > MAX_FRAME_BYTES) this.#lostSync('frame too large', false);
    return false;
  }

  #endPes(): void {
    const pes = this.#pes!;
    this.#pes = undefined;
    if (pes.kind === 'audio') this.#emitAudio();
    else if (this.#video && this.#video.bytes > MAX_FRAME_BYTES) this.#lostSync('frame too large', false);
    else if (pes.remaining === 0) this.#videoPesEnd = pes.frameStart;
  }

  /** Whether an Annex-B PES payload opens with a NAL unit that begins an access unit. */
  #opensAccessUnit(head: Buffer): boolean {
    const nal = head[2] === 1 ? 3 : head[2] === 0 && head[3] === 1 ? 4 : -1;
    if (nal === -1 || head[0] !== 0 || head[1] !== 0 || nal + 2 >= head.length) return false;
    const b0 = head[nal];
    const codec = this.#detectedVideo ?? VIDEO_TYPES[this.#psm.get(this.#videoId) ?? -1] ?? detectVideoCodec(head) ?? 'h264';
    if (codec === 'h264') {
      const t = b0 & 0x1f;
      return (t >= 6 && t <= 9) || ((t === 1 || t === 5) && (head[nal + 1] & 0x80) !== 0);
    }
    const t = (b0 >> 1) & 0x3f;
    return (t >= 32 && t <= 35) || t === 39 || (t < 32 && (head[nal + 2] & 0x80) !== 0);
  }

  /** Whether the frame in progress already holds a picture (not just parameter sets). */
  #pendingHasPicture(): boolean {
    const codec = this.#detectedVideo ?? VIDEO_TYPES[this.#psm.get(this.#videoId) ?? -1] ?? 'h264';
    const f = this.#video;
    if (!f || f.bytes === 0) return false;
    // joined so start codes cut between two packets are seen; only PTS-less streams come here
    const all = this.#viewsOf(f);
    const v = all.length === 1 ? all[0] : Buffer.concat(all, f.bytes);
    if (all.length > 1) {
      f.views = [v]; // the join is kept, so emitting the frame does not copy it again
      f.owned = 0; // (not in the store any more)
    }
    for (let i = v.indexOf(START_CODE); i !== -1 && i + 3 < v.length; i = v.indexOf(START_CODE, i + 3)) {
      if (isVcl(codec, v[i + 3])) return true;
    }
    return false;
  }

  #emitVideo(): void {
    const f = this.#video;
    this.#video = undefined;
    if (!f || f.bytes === 0) return;
    const data = this.#bytesOf(f, 'video');
    const type = this.#psm.get(this.#videoId);
    let codec: VideoCodec | undefined = type === undefined ? undefined : VIDEO_TYPES[type];
    if (type !== undefined && codec === undefined) {
      this.#warnOnce(`video-type-${type}`, { streamType: type }, 'unsupported video stream type; frames dropped');
      this.stats.droppedFrames++;
      return;
    }
    if (!this.#videoCodecSettled) {
      // No PSM, or not yet checked: trust the NAL units (they also catch PSMs that lie about the
      // codec). A guess from a non-key frame is revisited on the first key frame.
      const detected = detectVideoCodec(data);
      if (detected) {
        if (codec && detected !== codec) this.#warnOnce('psm-codec', { psm: codec, detected }, 'PSM video codec contradicts the NAL units');
        this.#detectedVideo = detected;
        if (isKeyAccessUnit(detected, data)) this.#videoCodecSettled = true;
      }
    }
    codec = this.#detectedVideo ?? codec ?? 'h264';
    this.stats.videoCodec = codec;
    this.stats.frames++;
    this.stats.videoFrames++;
    this.#onAccessUnit({ kind: 'video', codec, data, pts: f.pts, dts: f.dts, key: isKeyAccessUnit(codec, data) });
  }

  #emitAudio(): void {
    const f = this.#audio;
    this.#audio = undefined;
    if (!f || f.bytes === 0) return;
    const data = this.#bytesOf(f, 'audio');
    const type = this.#psm.get(this.#audioId);
    let codec: AudioCodec | undefined = type === undefined ? undefined : AUDIO_TYPES[type];
    if (type !== undefined && codec === undefined) {
      this.#warnOnce(`audio-type-${type}`, { streamType: type }, 'unsupported audio stream type; frames dropped');
      this.stats.droppedFrames++;
      return;
    }
    // Without a PSM: ADTS syncword means AAC; G.711 A-law is the GB default otherwise.
    codec ??= data.length >= 2 && data[0] === 0xff && (data[1] & 0xf6) === 0xf0 ? 'aac' : 'g711a';
    this.stats.audioCodec = codec;
    this.stats.frames++;
    this.stats.audioFrames++;
    this.#onAccessUnit({ kind: 'audio', codec, data, pts: f.pts, dts: f.dts, key: true });
  }

  #warnOnce(key: string, obj: object, msg: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#log.warn(obj, msg);
  }
}

function isKnownType(t: number): boolean {
  return VIDEO_TYPES[t] !== undefined || AUDIO_TYPES[t] !== undefined;
}

function isMediaStreamId(id: number): boolean {
  return id >= 0xc0 && id <= 0xef;
}

function readTimestamp(b: Buffer, o: number): number {
  return (
    ((b[o] >> 1) & 0x07) * 2 ** 30 +
    ((b[o + 1] << 22) | ((b[o + 2] >> 1) << 15) | (b[o + 3] << 7) | (b[o + 4] >> 1))
  );
}
