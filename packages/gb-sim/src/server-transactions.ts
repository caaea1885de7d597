// Non-INVITE server transactions of the simulated devices: a request retransmitted by the
// platform over UDP (its first 200 was lost or late) gets the same response again instead of
// being processed twice, which would answer a Catalog query twice. Kept for 32 s (timer J).
import type { SipMessage } from './sip-codec.ts';

interface Entry {
  response?: Buffer;
  at: number;
}

export class ServerTransactions {
  readonly #entries = new Map<string, Entry>();
  readonly #sweep: NodeJS.Timeout;

  constructor(private readonly ttlMs = 32_000) {
    this.#sweep = setInterval(() => {
      const limit = Date.now() - this.ttlMs;
      for (const [k, e] of this.#entries) if (e.at < limit) this.#entries.delete(k);
    }, Math.min(5000, ttlMs)).unref();
  }

  static key(m: SipMessage): string | undefined {
    const branch = m.headers.via?.[0]?.params.branch;
    return branch && m.headers.cseq ? `${branch}|${m.headers.cseq.method}|${m.headers['call-id']}` : undefined;
  }

  /** Returns the earlier entry when `m` repeats a request already seen; otherwise records it. */
  seen(m: SipMessage): Entry | undefined {
    if (m.method === 'INVITE' || m.method === 'ACK') return undefined; // INVITE dialogs handle their own retransmissions
    const key = ServerTransactions.key(m);
    if (!key) return undefined;
    const e = this.#entries.get(key);
    if (e) return e;
    this.#entries.set(key, { at: Date.now() });
    return undefined;
  }

  /** Remembers the final response sent for `rq` so a retransmission can be answered with it. */
  answered(rq: SipMessage, response: Buffer): void {
    const key = ServerTransactions.key(rq);
    const e = key ? this.#entries.get(key) : undefined;
    if (e) e.response = response;
  }

  close(): void {
    clearInterval(this.#sweep);
    this.#entries.clear();
  }
}
