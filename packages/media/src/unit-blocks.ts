// Access units from an ingest worker to the main thread in blocks that travel back and forth.
// A new ArrayBuffer per batch, as before, made every byte of video a fresh external allocation
// (~125 MB/s at 500 streams): V8 answers external memory growth with full collections, about 9 a
// second, a third of the engine's CPU. Transferring an existing buffer allocates nothing, so the
// main thread sends each block back once its units are handled and the worker fills it again.
// (A SharedArrayBuffer ring would need no return trip, but V8 copies out of shared memory with
// relaxed atomics: 11 times slower than memcpy, measured, and the outputs copy every byte.)
//
// Record layout, 8-byte aligned: RECORD_FIELDS float64s (stream, codec, flags, pts, dts, length)
// then the unit's bytes.
import type { AccessUnit } from './access-unit.ts';

/** stream, codec, flags (1 video, 2 key), pts, dts, length */
const RECORD_FIELDS = 6;
const HEADER_BYTES = RECORD_FIELDS * 8;
/**
 * Smallest block. A turn's units fill as many as they need; a unit larger than a block gets one of
 * the next power of two. Small, because a block goes out every event-loop turn however little it
 * holds, and the in-flight limit counts whole blocks.
 */
export const UNIT_BLOCK_BYTES = 64 * 1024;
/** returned blocks kept for reuse, in bytes: enough for the steady state, not for every burst */
const MAX_FREE_BYTES = 32 * 1024 * 1024;

const CODECS = ['h264', 'h265', 'aac', 'g711a', 'g711u'] as const;
const CODEC_INDEX: Record<AccessUnit['codec'], number> = { h264: 0, h265: 1, aac: 2, g711a: 3, g711u: 4 };

const align8 = (n: number): number => (n + 7) & ~7;

/** A filled block as posted: `units` records from offset 0. */
export interface UnitBlock {
  buffer: ArrayBuffer;
  units: number;
}

/** Worker side: copies units into blocks; take() hands over the filled ones, recycle() takes them back. */
export class UnitBlockWriter {
  readonly #maxInFlight: number;
  readonly #blockBytes: number;
  /** returned blocks by size, kept for reuse (MAX_FREE_BYTES in all) */
  readonly #free = new Map<number, ArrayBuffer[]>();
  #freeBytes = 0;
  #full: UnitBlock[] = [];
  #block: ArrayBuffer | null = null;
  #f64 = new Float64Array(0);
  #bytes = new Uint8Array(0);
  #used = 0;
  #units = 0;
  /** bytes of the blocks being written or posted and not yet recycled */
  #inFlight = 0;

  /** @param maxInFlightBytes block bytes that may be out at once; beyond them write() refuses */
  constructor(maxInFlightBytes: number, blockBytes = UNIT_BLOCK_BYTES) {
    if (!Number.isInteger(blockBytes) || blockBytes < 1024 || blockBytes % 8 !== 0) throw new TypeError(`unit blocks need a size >= 1024, a multiple of 8, not ${blockBytes}`);
    this.#maxInFlight = maxInFlightBytes;
    this.#blockBytes = blockBytes;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  /** Whether units were written since the last take(). */
  get pending(): boolean {
    return this.#units > 0 || this.#full.length > 0;
  }

  /** Copies a unit into the current block; false when that would exceed the in-flight bytes (the reader is behind): dropped. */
  write(stream: number, au: AccessUnit): boolean {
    const need = HEADER_BYTES + align8(au.data.length);
    if (this.#block === null || this.#used + need > this.#block.byteLength) {
      let size = this.#blockBytes;
      while (size < need) size *= 2;
      if (this.#inFlight + size > this.#maxInFlight) return false;
      this.#seal();
      let block = this.#free.get(size)?.pop();
      if (block) this.#freeBytes -= size;
      else block = new ArrayBuffer(size);
      this.#inFlight += size;
      this.#block = block;
      this.#f64 = new Float64Array(block);
      this.#bytes = new Uint8Array(block);
    }
    const at = this.#used;
    const f = this.#f64;
    const h = at / 8;
    f[h] = stream;
    f[h + 1] = CODEC_INDEX[au.codec];
    f[h + 2] = (au.kind === 'video' ? 1 : 0) | (au.key ? 2 : 0);
    f[h + 3] = au.pts;
    f[h + 4] = au.dts;
    f[h + 5] = au.data.length;
    this.#bytes.set(au.data, at + HEADER_BYTES);
    this.#used = at + need;
    this.#units++;
    return true;
  }

  /** The filled blocks, for posting with their buffers in the transfer list; empty when nothing was written. */
  take(): UnitBlock[] {
    this.#seal();
    const full = this.#full;
    this.#full = [];
    return full;
  }

  /** A block handed back by the reader. */
  recycle(buffer: ArrayBuffer): void {
    this.#inFlight -= buffer.byteLength;
    if (this.#freeBytes + buffer.byteLength > MAX_FREE_BYTES) return;
    this.#freeBytes += buffer.byteLength;
    const free = this.#free.get(buffer.byteLength);
    if (free) free.push(buffer);
    else this.#free.set(buffer.byteLength, [buffer]);
  }

  #seal(): void {
    // a block is written as soon as it is taken, so a current block holds at least one unit
    if (this.#block === null) return;
    this.#full.push({ buffer: this.#block, units: this.#units });
    this.#block = null;
    this.#used = 0;
    this.#units = 0;
  }
}

/**
 * Main-thread side: calls fn for each unit of a block. A unit's data is a view of the block, which
 * goes back to the worker afterwards (the view is then empty), so whatever keeps bytes copies them.
 */
export function forEachBlockUnit(block: UnitBlock, fn: (stream: number, au: AccessUnit) => void): void {
  const f = new Float64Array(block.buffer);
  let at = 0;
  for (let i = 0; i < block.units; i++) {
    const h = at / 8;
    const length = f[h + 5]!;
    const codec = CODECS[f[h + 1]!];
    const flags = f[h + 2]!;
    if (codec !== undefined) {
      fn(f[h]!, {
        kind: flags & 1 ? 'video' : 'audio',
        codec,
        key: (flags & 2) !== 0,
        pts: f[h + 3]!,
        dts: f[h + 4]!,
        data: Buffer.from(block.buffer, at + HEADER_BYTES, length),
      });
    }
    at += HEADER_BYTES + align8(length);
  }
}
