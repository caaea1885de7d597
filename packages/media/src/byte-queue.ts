const START_CODE = Buffer.from([0, 0, 1]);

/**
 * FIFO of received chunks read without joining them: payload bytes leave as views of the
 * original chunks, so a frame's bytes are copied once (when the frame is assembled).
 */
export class ByteQueue {
  #chunks: Buffer[] = [];
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#length = 0;
  }

  /** Byte at offset i from the read position; caller checks i < length. */
  byte(i: number): number {
    let idx = this.#head + i;
    for (const c of this.#chunks) {
      if (idx < c.length) return c[idx];
      idx -= c.length;
    }
    return -1;
  }

  /** The first n bytes as one buffer: a view when they sit in one chunk, else a small copy. */
  peek(n: number): Buffer {
    const first = this.#chunks[0];
    if (first && first.length - this.#head >= n) return first.subarray(this.#head, this.#head + n);
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    let start = this.#head;
    for (const c of this.#chunks) {
      const take = Math.min(c.length - start, n - o);
      c.copy(out, o, start, start + take);
      o += take;
      start = 0;
      if (o === n) break;
    }
    return out;
  }

  /** Everything queued as one buffer (joins chunks); used only when scanning. */
  coalesce(): Buffer {
    if (this.#chunks.length === 0) return Buffer.alloc(0);
    const joined = this.#chunks.length === 1 ? this.#chunks[0].subarray(this.#head) : this.peek(this.#length);
    this.#chunks = [joined];
    this.#head = 0;
    return joined;
  }

  /** Removes n bytes and returns them as views of the queued chunks. */
  take(n: number, into: Buffer[]): void {
    this.#advance(n, into);
  }

  skip(n: number): void {
    this.#advance(n, undefined);
  }

  #advance(n: number, into: Buffer[] | undefined): void {
    n = Math.min(n, this.#length);
    this.#length -= n;
    while (n > 0) {
      const c = this.#chunks[0];
      const avail = c.length - this.#head;
      if (avail > n) {
        into?.push(c.subarray(this.#head, this.#head + n));
        this.#head += n;
        return;
      }
      into?.push(this.#head === 0 ? c : c.subarray(this.#head));
      n -= avail;
      this.#chunks.shift();
      this.#head = 0;
    }
  }

  /**
   * Offset of the first `00 00 01 xx` with minId <= xx <= maxId starting before `limit`, whose four
   * bytes are all queued; -1 if none. Scans chunk by chunk with Buffer.indexOf.
   */
  findStartCode(limit: number, minId: number, maxId = 0xff): number {
    let base = 0;
    for (let ci = 0; ci < this.#chunks.length && base < limit; ci++) {
      const view = ci === 0 ? this.#chunks[0].subarray(this.#head) : this.#chunks[ci];
      for (let i = view.indexOf(START_CODE); i !== -1 && base + i < limit; i = view.indexOf(START_CODE, i + 1)) {
        const p = base + i;
        if (p + 3 >= this.#length) return -1;
        const id = i + 3 < view.length ? view[i + 3] : this.byte(p + 3);
        if (id >= minId && id <= maxId) return p;
      }
      // start codes straddling this chunk and the next
      for (let k = Math.max(0, view.length - 2); k < view.length; k++) {
        const p = base + k;
        if (p >= limit || p + 3 >= this.#length) break;
        if (this.byte(p) === 0 && this.byte(p + 1) === 0 && this.byte(p + 2) === 1 && this.byte(p + 3) >= minId && this.byte(p + 3) <= maxId) return p;
      }
      base += view.length;
    }
    return -1;
  }
}
