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

  /** Puts bytes back in front of the queue, to be read again. */
  unshift(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#head > 0) {
      this.#chunks[0] = this.#chunks[0].subarray(this.#head);
      this.#head = 0;
    }
    this.#chunks.unshift(chunk);
    this.#length += chunk.length;
  }

  /** Replaces the queued views with a copy of their bytes: for callers that reuse a chunk's memory after push(). */
  own(): void {
    if (this.#length === 0) {
      this.clear();
      return;
    }
    const owned = this.peek(this.#length);
    // peek() returns a view when the bytes sit in one chunk: copy that too
    this.#chunks = [owned.buffer === this.#chunks[0]?.buffer ? Buffer.from(owned) : owned];
    this.#head = 0;
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
   * How many bytes at the end of the queue could open a start code whose id byte has not arrived
   * (`00`, `00 00`, `00 00 01`): a scanner must hold these back until the next chunk.
   */
  startCodePrefixAtEnd(): number {
    const n = this.#length;
    if (n === 0 || this.#back(1) !== 0) {
      return n >= 3 && this.#back(1) === 1 && this.#back(2) === 0 && this.#back(3) === 0 ? 3 : 0;
    }
    return n >= 2 && this.#back(2) === 0 ? 2 : 1;
  }

  /** Byte k places from the end (k >= 1, k <= length). */
  #back(k: number): number {
    const chunks = this.#chunks;
    for (let ci = chunks.length - 1; ci >= 0; ci--) {
      const c = chunks[ci];
      const avail = ci === 0 ? c.length - this.#head : c.length;
      if (k <= avail) return c[c.length - k];
      k -= avail;
    }
    return -1;
  }

  /**
   * Offset of the first `00 00 01 xx` with minId <= xx <= maxId starting before `limit`, whose four
   * bytes are all queued; -1 if none. Scans each chunk in place with Buffer.indexOf (no views made:
   * this runs once per received packet).
   */
  findStartCode(limit: number, minId: number, maxId = 0xff): number {
    const chunks = this.#chunks;
    // offset of the current chunk's byte 0 relative to the read position
    let base = -this.#head;
    for (let ci = 0; ci < chunks.length; ci++) {
      const c = chunks[ci];
      const from = ci === 0 ? this.#head : 0;
      if (base + from >= limit) break;
      for (let i = c.indexOf(START_CODE, from); i !== -1 && base + i < limit; i = c.indexOf(START_CODE, i + 1)) {
        const p = base + i;
        if (p + 3 >= this.#length) return -1;
        const id = i + 3 < c.length ? c[i + 3] : this.byte(p + 3);
        if (id >= minId && id <= maxId) return p;
      }
      // start codes straddling this chunk and the next: they begin with a zero in the last two bytes
      for (let k = Math.max(from, c.length - 2); k < c.length; k++) {
        if (c[k] !== 0) continue;
        const p = base + k;
        if (p >= limit || p + 3 >= this.#length) break;
        if (this.byte(p + 1) === 0 && this.byte(p + 2) === 1 && this.byte(p + 3) >= minId && this.byte(p + 3) <= maxId) return p;
      }
      base += c.length;
    }
    return -1;
  }
}
