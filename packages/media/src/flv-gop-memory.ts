import { RecyclingSlabs } from './slab-allocator.ts';

/** FLV tags per slab: a GOP of a 2 Mbit/s stream fills about eight */
const SLAB_BYTES = 64 * 1024;
/** a "GOP" this large has no key frames (audio only, or a broken source): left to the GC */
const MAX_GOP_BYTES = 32 * 1024 * 1024;

/**
 * Memory for one stream's FLV tags, reused GOP after GOP. A tag is read by node-media-server's GOP
 * cache until the next key frame replaces the cache, and by the players it was sent to. A GOP
 * whose tags no player got is taken back as soon as the next key frame's tag is in the cache; one
 * that went to players is left to the GC (their sockets may still be writing it). Without this,
 * every tag byte (~ the stream's bitrate) was a new ArrayBuffer, the main thread's largest cause
 * of full garbage collections.
 */
export class FlvGopMemory {
  readonly #slabs = new RecyclingSlabs(SLAB_BYTES);
  /** tags of the current GOP were sent to at least one player */
  #lent = false;
  /** the GOP before the current one: taken back once the key frame's tag has replaced the cache */
  #ending: Buffer[] | null = null;

  alloc(n: number): Buffer {
    if (this.#slabs.groupBytes > MAX_GOP_BYTES) this.#slabs.seal();
    return this.#slabs.alloc(n);
  }

  /** A key frame's tags come next: the tags so far belong to the GOP that is ending. */
  keyFrame(): void {
    const ended = this.#slabs.seal();
    // (an #ending still here means the last key frame never reached the cache: left to the GC)
    this.#ending = this.#lent ? null : ended;
    this.#lent = false;
  }

  /**
   * A tag went to the publisher. `replacedGop`: it was a key frame that replaced the GOP cache;
   * `players`: how many players it went to.
   */
  sent(replacedGop: boolean, players: number): void {
    if (players > 0) this.#lent = true;
    if (replacedGop && this.#ending) {
      this.#slabs.recycle(this.#ending);
      this.#ending = null;
    }
  }
}
