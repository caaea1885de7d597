// Non-INVITE client transactions shared by all devices of a simulator: matched by Via branch,
// retransmitted over UDP on RFC 3261 timer E (T1 doubling, capped at T2), given up after 64*T1.
import { randomBytes } from 'node:crypto';
import type { SipMessage } from './sip-codec.ts';
import { serializeSipMessage } from './sip-codec.ts';
import type { SimLink } from './sim-link.ts';

export class SipTimeoutError extends Error {
  constructor(method: string) {
    super(`no final response to ${method}`);
    this.name = 'SipTimeoutError';
  }
}

export interface SipTimers {
  t1Ms: number;
  t2Ms: number;
  timeoutMs: number;
}

interface Pending {
  resolve(m: SipMessage): void;
  reject(e: Error): void;
  retransmit?: NodeJS.Timeout;
  timeout: NodeJS.Timeout;
}

export function newBranch(): string {
  return `z9hG4bK${randomBytes(9).toString('hex')}`;
}

export class ClientTransactions {
  readonly #pending = new Map<string, Pending>();
  readonly #timers: SipTimers;

  constructor(timers: Partial<SipTimers> = {}) {
    this.#timers = { t1Ms: 500, t2Ms: 4000, timeoutMs: 32_000, ...timers };
  }

  get size(): number {
    return this.#pending.size;
  }

  /** `m` must carry a Via with a branch from newBranch(); resolves on the final response. */
  send(link: SimLink, m: SipMessage, lfOnly = false): Promise<SipMessage> {
    const branch = m.headers.via?.[0]?.params.branch;
    if (!branch) throw new TypeError('request without a Via branch');
    const data = serializeSipMessage(m, lfOnly);
    return new Promise((resolve, reject) => {
      const p: Pending = {
        resolve,
        reject,
        timeout: setTimeout(() => {
          this.#finish(branch);
          reject(new SipTimeoutError(m.method ?? 'request'));
        }, this.#timers.timeoutMs),
      };
      this.#pending.set(branch, p);
      link.send(data);
      if (link.transport === 'udp') {
        let interval = this.#timers.t1Ms;
        const again = () => {
          link.send(data);
          interval = Math.min(interval * 2, this.#timers.t2Ms);
          p.retransmit = setTimeout(again, interval);
        };
        p.retransmit = setTimeout(again, interval);
      }
    });
  }

  /** Returns false when the response matches no transaction of ours (a stray or late response). */
  onResponse(m: SipMessage): boolean {
    const branch = m.headers.via?.[0]?.params.branch;
    if (!branch) return false;
    const p = this.#pending.get(branch);
    if (!p) return false;
    if ((m.status ?? 0) < 200) {
      // A provisional response stops retransmission (timer E continues at T2 in RFC 3261; stopping is enough here).
      if (p.retransmit) clearTimeout(p.retransmit);
      return true;
    }
    this.#finish(branch);
    p.resolve(m);
    return true;
  }

  #finish(branch: string): void {
    const p = this.#pending.get(branch);
    if (!p) return;
    clearTimeout(p.timeout);
    if (p.retransmit) clearTimeout(p.retransmit);
    this.#pending.delete(branch);
  }

  close(): void {
    for (const [branch, p] of this.#pending) {
      this.#finish(branch);
      p.reject(new Error('simulator closed'));
    }
  }
}
