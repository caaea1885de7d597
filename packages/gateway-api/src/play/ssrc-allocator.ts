// GB/T 28181 SSRC: 10 decimal digits = '0' live | '1' history, digits 4-8 of the SIP domain, and a
// 4-digit sequence. The largest value (1999999999) fits an unsigned 32-bit RTP SSRC, so the
// sequence can never overflow the field; it wraps modulo 10000 instead.

export type SsrcKind = 'live' | 'history';

/** The part of the shared state the allocator needs: a counter every gateway node shares. */
export interface SequenceSource {
  incr(key: string): Promise<number>;
}

export interface SsrcAllocatorOptions {
  /** SIP domain (first 10 digits of the server id). */
  domain: string;
  state: SequenceSource;
  /** True when an open stream (on any node) already uses this SSRC; the database is the usual answer. */
  inUse?: (ssrc: string) => boolean | Promise<boolean>;
}

export class SsrcExhaustedError extends Error {
  constructor() {
    super('no free SSRC: all 10000 sequence numbers are held by open streams');
    this.name = 'SsrcExhaustedError';
  }
}

const SEQUENCE_SPACE = 10000;

export class SsrcAllocator {
  readonly #prefix: string;
  readonly #state: SequenceSource;
  readonly #inUse?: SsrcAllocatorOptions['inUse'];
  readonly #held = new Set<string>();
  readonly #key: string;

  constructor(opts: SsrcAllocatorOptions) {
    if (!/^\d{10}$/.test(opts.domain)) throw new TypeError(`domain must be 10 digits, got "${opts.domain}"`);
    this.#prefix = opts.domain.slice(3, 8);
    this.#state = opts.state;
    this.#inUse = opts.inUse;
    this.#key = `ssrc:seq:${opts.domain}`;
  }

  /** Allocates an SSRC no open stream holds; call release() when the stream ends. */
  async allocate(kind: SsrcKind): Promise<string> {
    const head = kind === 'live' ? '0' : '1';
    // The shared counter makes concurrent nodes pick different numbers; the in-use checks only
    // matter after the sequence wrapped around while old streams stayed open.
    for (let attempt = 0; attempt < SEQUENCE_SPACE; attempt++) {
      const n = await this.#state.incr(this.#key);
      const seq = String(((n % SEQUENCE_SPACE) + SEQUENCE_SPACE) % SEQUENCE_SPACE).padStart(4, '0');
      const ssrc = `${head}${this.#prefix}${seq}`;
      if (this.#held.has(ssrc)) continue;
      this.#held.add(ssrc);
      if (this.#inUse && (await this.#inUse(ssrc))) {
        this.#held.delete(ssrc);
        continue;
      }
      return ssrc;
    }
    throw new SsrcExhaustedError();
  }

  /** Marks an SSRC as held without allocating it (streams re-attached after a restart). */
  hold(ssrc: string): void {
    this.#held.add(ssrc);
  }

  release(ssrc: string): void {
    this.#held.delete(ssrc);
  }

  get heldCount(): number {
    return this.#held.size;
  }
}

/** gosip's stream id: the SSRC as a number, in upper-case hex, 8 digits. */
export function ssrcToStreamId(ssrc: string): string {
  if (!/^\d{1,10}$/.test(ssrc)) throw new TypeError(`SSRC must be decimal digits, got "${ssrc}"`);
  const n = Number(ssrc);
  if (n > 0xffffffff) throw new TypeError(`SSRC ${ssrc} does not fit 32 bits`);
  return n.toString(16).toUpperCase().padStart(8, '0');
}
