import pino, { type Logger } from 'pino';
import type { AccessUnit, AudioCodec, VideoCodec } from './access-unit.ts';
import { PsDemuxer } from './ps-demuxer.ts';
import type { RtpPacket } from './rtp-packet.ts';
import { RtpReorderer } from './rtp-reorderer.ts';

export interface RtpPsIngestOptions {
  onAccessUnit: (au: AccessUnit) => void;
  /** packets held back waiting for a missing one; default 32 */
  reorderWindow?: number;
  /** longest wait for a missing packet, checked as packets arrive; default 500 ms */
  reorderDelayMs?: number;
  /**
   * Packets' payloads are valid only during input() (held packets are copied) and access units only
   * during onAccessUnit (PsDemuxerOptions.transient).
   */
  transient?: boolean;
  logger?: Logger;
}

export interface RtpPsIngestStats {
  packets: number;
  lost: number;
  /** access units out, audio and video */
  frames: number;
  videoFrames: number;
  audioFrames: number;
  /** frames dropped because packets of them were lost */
  droppedFrames: number;
  resyncs: number;
  videoCodec?: VideoCodec;
  audioCodec?: AudioCodec;
}

/** Per stream: RTP packets (any order, with loss) -> reorder window -> PS demuxer -> access units. */
export class RtpPsIngest {
  readonly #reorderer: RtpReorderer;
  readonly #demuxer: PsDemuxer;
  readonly #log: Logger;
  #packets = 0;
  #lastMarker = false;

  constructor(o: RtpPsIngestOptions) {
    this.#log = o.logger ?? pino({ level: 'silent' });
    this.#demuxer = new PsDemuxer(o.onAccessUnit, this.#log, { transient: o.transient });
    this.#reorderer = new RtpReorderer({ window: o.reorderWindow, maxDelayMs: o.reorderDelayMs, copyHeld: o.transient, onPacket: (p, lost) => this.#ordered(p, lost) });
  }

  input(p: RtpPacket): void {
    this.#packets++;
    this.#reorderer.input(p);
  }

  /** End of stream: delivers held packets and the last frame. */
  flush(): void {
    this.#reorderer.flush();
    this.#demuxer.flush();
  }

  get stats(): RtpPsIngestStats {
    const d = this.#demuxer.stats;
    return {
      packets: this.#packets,
      lost: this.#reorderer.stats.lost,
      frames: d.frames,
      videoFrames: d.videoFrames,
      audioFrames: d.audioFrames,
      droppedFrames: d.droppedFrames,
      resyncs: d.resyncs,
      videoCodec: d.videoCodec,
      audioCodec: d.audioCodec,
    };
  }

  #ordered(p: RtpPacket, lostBefore: number): void {
    if (lostBefore > 0) {
      this.#log.debug({ lostBefore, seq: p.seq }, 'rtp gap');
      // The marker of the last packet before the gap says whether its frame was complete.
      this.#demuxer.discontinuity(this.#lastMarker);
    }
    this.#lastMarker = p.marker;
    this.#demuxer.input(p.payload);
  }
}
