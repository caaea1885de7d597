import type { AccessUnit } from './access-unit.ts';

const SECOND = 90_000;

/**
 * Keeps one stream's 90 kHz timeline going forward when the source's timestamps jump: a camera
 * restarting its clock, an NVR seeking in a playback, a looped file. Without it a jump back stalls
 * HLS (a segment is cut only when enough time has passed, so it grows without end) and pins FLV
 * timestamps at zero. A jump is a step back of more than 1 s or forward of more than 10 s; the
 * frames after it continue one frame interval after the last one.
 */
export class TimelineContinuity {
  #offset = 0;
  #last = Number.NaN;
  #lastVideo = Number.NaN;
  #frameStep = 3600; // 40 ms until two video frames tell
  #jumps = 0;

  get jumps(): number {
    return this.#jumps;
  }

  /** Rewrites au.pts/au.dts in place. */
  apply(au: AccessUnit): void {
    let dts = au.dts + this.#offset;
    if (!Number.isNaN(this.#last)) {
      const gap = dts - this.#last;
      if (gap < -SECOND || gap > 10 * SECOND) {
        const shift = this.#last + this.#frameStep - dts;
        this.#offset += shift;
        dts += shift;
        this.#jumps++;
      }
    }
    if (au.kind === 'video') {
      const step = dts - this.#lastVideo;
      if (step > 0 && step < SECOND) this.#frameStep = step;
      this.#lastVideo = dts;
    }
    au.pts += dts - au.dts;
    au.dts = dts;
    // audio may trail video by a few frames: only a real step back counts as a jump
    this.#last = Number.isNaN(this.#last) ? dts : Math.max(this.#last, dts);
  }
}
