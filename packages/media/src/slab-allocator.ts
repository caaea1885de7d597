/**
 * Hands out byte ranges of larger buffers. Creating an ArrayBuffer costs about 3 µs whatever its
 * size (allocation plus the GC's external-memory bookkeeping), and the media path made several
 * 10 kB buffers per frame (frame assembly, FLV tag, TS packets): measured with
 * bench/media-streams.ts, those allocations and the GC work behind them were the largest single
 * cost of the outputs. A range of a 256 kB slab costs a tenth of that.
 *
 * The bytes are uninitialised: callers write every byte of what they take. Ranges share one
 * ArrayBuffer, so never transfer `.buffer` to a worker or hand it to code that reads past the view.
 * A slab lives as long as any range of it, which is why each kind of output has its own allocator
 * (ranges of one allocator die at about the same age).
 */
export class SlabAllocator {
  readonly #slabSize: number;
  #slab: Buffer = Buffer.alloc(0);
  #used = 0;

  /** @param slabSize bytes per slab (default 256 kB); requests above a quarter of it get their own buffer */
  constructor(slabSize = 256 * 1024) {
    this.#slabSize = slabSize;
  }

  alloc(n: number): Buffer {
    if (n > this.#slabSize >>> 2) return Buffer.allocUnsafeSlow(n);
    if (this.#used + n > this.#slab.length) {
      this.#slab = Buffer.allocUnsafeSlow(this.#slabSize);
      this.#used = 0;
    }
    const out = this.#slab.subarray(this.#used, this.#used + n);
    // 8-byte aligned starts: copies between ranges stay word-aligned
    this.#used = (this.#used + n + 7) & ~7;
    return out;
  }
}

/**
 * Slabs handed out in groups and taken back once a group's bytes are read by no one, so that in
 * steady state nothing is allocated at all. Made for HLS segments: one group per segment, taken
 * back when the segment is on disk. Costs about one segment of memory kept for reuse.
 */
export class RecyclingSlabs {
  readonly #slabSize: number;
  #free: Buffer[] = [];
  #group: Buffer[] = [];
  #slab: Buffer | null = null;
  #used = 0;
  #maxFree = 4;

  /** @param slabSize bytes per slab (default 256 kB); requests above half of it get their own buffer, never reused */
  constructor(slabSize = 256 * 1024) {
    this.#slabSize = slabSize;
  }

  /** Uninitialised bytes in the current group. */
  alloc(n: number): Buffer {
    if (n > this.#slabSize >>> 1) return Buffer.allocUnsafeSlow(n);
    if (!this.#slab || this.#used + n > this.#slab.length) {
      this.#slab = this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#slabSize);
      this.#group.push(this.#slab);
      this.#used = 0;
    }
    const out = this.#slab.subarray(this.#used, this.#used + n);
    this.#used = (this.#used + n + 7) & ~7;
    return out;
  }

  /** Ends the current group (later ranges come from other slabs) and returns its slabs for recycle(). */
  seal(): Buffer[] {
    const group = this.#group;
    // keep up to two groups' worth: one being written while the next fills
    this.#maxFree = Math.max(4, 2 * group.length);
    this.#group = [];
    this.#slab = null;
    return group;
  }

  /** Nothing reads the ranges of this sealed group any more: its slabs may be handed out again. */
  recycle(group: Buffer[]): void {
    for (const slab of group) {
      if (this.#free.length >= this.#maxFree) return;
      this.#free.push(slab);
    }
  }

  /** Drops the slabs kept for reuse. */
  clear(): void {
    this.#free = [];
    this.#group = [];
    this.#slab = null;
  }
}
