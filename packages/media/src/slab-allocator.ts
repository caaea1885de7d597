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
 * Free slabs of one size, shared by every RecyclingSlabs of the thread: streams whose segments or
 * GOPs end at different times lend each other memory, so the spare memory of N streams is what
 * their bursts overlap by, not N spare groups.
 */
class SlabPool {
  readonly #free: Buffer[] = [];
  /** at most this many spare slabs are kept; the rest are left to the GC */
  readonly #maxFree: number;

  constructor(readonly slabSize: number) {
    this.#maxFree = Math.max(4, Math.floor(MAX_POOLED_BYTES / slabSize));
  }

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.slabSize);
  }

  give(slab: Buffer): void {
    if (this.#free.length < this.#maxFree) this.#free.push(slab);
  }
}

/** spare slabs kept per thread and slab size */
const MAX_POOLED_BYTES = 64 * 1024 * 1024;
const pools = new Map<number, SlabPool>();

/**
 * Slabs handed out in groups and taken back once a group's bytes are read by no one, so that in
 * steady state nothing is allocated at all. Made for HLS segments (one group per segment, taken
 * back when the segment is on disk) and FLV tags (one group per GOP, taken back when the GOP
 * leaves node-media-server's cache). Spare slabs go to a pool shared by the thread.
 */
export class RecyclingSlabs {
  readonly #pool: SlabPool;
  #group: Buffer[] = [];
  #slab: Buffer | null = null;
  #used = 0;

  /** @param slabSize bytes per slab (default 256 kB); requests above half of it get their own buffer, never reused */
  constructor(slabSize = 256 * 1024) {
    let pool = pools.get(slabSize);
    if (!pool) pools.set(slabSize, (pool = new SlabPool(slabSize)));
    this.#pool = pool;
  }

  /** Uninitialised bytes in the current group. */
  alloc(n: number): Buffer {
    const size = this.#pool.slabSize;
    if (n > size >>> 1) return Buffer.allocUnsafeSlow(n);
    if (!this.#slab || this.#used + n > this.#slab.length) {
      this.#slab = this.#pool.take();
      this.#group.push(this.#slab);
      this.#used = 0;
    }
    const out = this.#slab.subarray(this.#used, this.#used + n);
    this.#used = (this.#used + n + 7) & ~7;
    return out;
  }

  /** Bytes of slabs in the current group. */
  get groupBytes(): number {
    return this.#group.length * this.#pool.slabSize;
  }

  /** Ends the current group (later ranges come from other slabs) and returns its slabs for recycle(). */
  seal(): Buffer[] {
    const group = this.#group;
    this.#group = [];
    this.#slab = null;
    return group;
  }

  /** Nothing reads the ranges of this sealed group any more: its slabs may be handed out again. */
  recycle(group: Buffer[]): void {
    for (const slab of group) this.#pool.give(slab);
  }

  /** Forgets the current group (its slabs are left to the GC: readers may still hold them). */
  clear(): void {
    this.#group = [];
    this.#slab = null;
  }
}
