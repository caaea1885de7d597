import type { RtpPacket } from './rtp-packet.ts';

/** Sequence jumps larger than this are a sender restart, not loss or reordering. */
const MAX_JUMP = 3000;

export interface RtpReordererStats {
  /** packets never received (gaps skipped once the window was full) */
  lost: number;
  /** packets that arrived after their gap had been given up, or twice */
  lateOrDuplicate: number;
  /** packets that arrived ahead of a missing one and were held back */
  reordered: number;
  /** sequence restarts (large jumps) */
  resets: number;
}

/**
 * Puts RTP packets back in sequence order within a window of `window` packets. A gap is
 * given up (counted as lost) once more than `window` later packets are waiting; the first
 * packet after a gap is delivered with `lostBefore` > 0 so the next stage can resynchronise.
 * The first few packets are held so a stream whose first packets arrive swapped starts at
 * the lowest sequence number.
 */
export class RtpReorderer {
  readonly stats: RtpReordererStats = { lost: 0, lateOrDuplicate: 0, reordered: 0, resets: 0 };
  readonly #window: number;
  readonly #onPacket: (p: RtpPacket, lostBefore: number) => void;
  readonly #held = new Map<number, RtpPacket>();
  #expected = -1;
  #lateRun = 0;
  readonly #startHold: number;

  readonly #maxDelayMs: number;
  readonly #now: () => number;
  readonly #copyHeld: boolean;
  /** arrival time of the oldest packet held back behind the current gap */
  #heldSince = 0;

  constructor(o: {
    onPacket: (p: RtpPacket, lostBefore: number) => void;
    /** packets held back behind a gap; default 32 */
    window?: number;
    /** longest a gap is waited for, checked as packets arrive; default 500 ms */
    maxDelayMs?: number;
    /** payloads are valid only during input() (the receive buffer is reused): packets held back are copied */
    copyHeld?: boolean;
    now?: () => number;
  }) {
    this.#onPacket = o.onPacket;
    this.#maxDelayMs = o.maxDelayMs ?? 500;
    this.#copyHeld = o.copyHeld ?? false;
    this.#now = o.now ?? Date.now;
    this.#window = Math.max(0, o.window ?? 32);
    this.#startHold = Math.max(1, Math.min(this.#window, 8));
  }

  input(p: RtpPacket): void {
    if (this.#expected === -1) {
      // The very first packets may be out of order too: hold a few and start at the lowest.
      if (!this.#held.has(p.seq)) this.#hold(p);
      if (this.#held.size >= this.#startHold) this.#start();
      return;
    }
    const d = (((p.seq - this.#expected + 0x8000) & 0xffff) - 0x8000);
    if (d < 0) {
      // Many "late" packets in a row means the sender restarted its sequence lower.
      if (++this.#lateRun > this.#window + 1 || d < -MAX_JUMP) this.#restart(p);
      else this.stats.lateOrDuplicate++;
      return;
    }
    this.#lateRun = 0;
    if (d > MAX_JUMP) {
      this.#restart(p);
      return;
    }
    if (d === 0) {
      this.#deliver(p, 0);
      this.#drain();
      return;
    }
    if (this.#held.has(p.seq)) {
      this.stats.lateOrDuplicate++;
      return;
    }
    this.stats.reordered++;
    if (this.#held.size === 0) this.#heldSince = this.#now();
    this.#hold(p);
    // Low-rate streams (audio only) would wait long for a full window: bound the wait in time too.
    while (this.#held.size > this.#window || (this.#held.size > 0 && this.#now() - this.#heldSince > this.#maxDelayMs)) {
      this.#skipGap();
    }
  }

  /** Delivers everything held, in order, giving up the gaps between. */
  flush(): void {
    if (this.#expected === -1) this.#start();
    while (this.#held.size > 0) this.#skipGap();
  }

  #start(): void {
    const seqs = [...this.#held.keys()];
    if (seqs.length === 0) return;
    const first = seqs[0];
    let lowest = first;
    for (const s of seqs) if (((s - first + 0x8000) & 0xffff) - 0x8000 < ((lowest - first + 0x8000) & 0xffff) - 0x8000) lowest = s;
    this.#expected = lowest;
    this.#heldSince = this.#now();
    this.#drain();
    while (this.#held.size > this.#window) this.#skipGap();
  }

  #hold(p: RtpPacket): void {
    this.#held.set(p.seq, this.#copyHeld ? { ...p, payload: Buffer.from(p.payload) } : p);
  }

  #restart(p: RtpPacket): void {
    this.stats.resets++;
    this.flush();
    this.#lateRun = 0;
    this.#expected = p.seq;
    this.#deliver(p, 1);
    this.#drain();
  }

  #skipGap(): void {
    let lost = 0;
    while (!this.#held.has(this.#expected)) {
      this.#expected = (this.#expected + 1) & 0xffff;
      lost++;
    }
    this.stats.lost += lost;
    const p = this.#held.get(this.#expected)!;
    this.#held.delete(this.#expected);
    this.#deliver(p, lost);
    this.#drain();
    if (this.#held.size > 0) this.#heldSince = this.#now();
  }

  #drain(): void {
    let p: RtpPacket | undefined;
    while ((p = this.#held.get(this.#expected)) !== undefined) {
      this.#held.delete(this.#expected);
      this.#deliver(p, 0);
    }
  }

  #deliver(p: RtpPacket, lostBefore: number): void {
    this.#expected = (p.seq + 1) & 0xffff;
    this.#onPacket(p, lostBefore);
  }
}
