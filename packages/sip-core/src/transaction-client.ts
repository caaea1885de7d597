// Client transactions (RFC 3261 §17.1): UDP retransmission from T1 doubling up to T2, give-up after
// `timeout`; provisional responses do not complete a transaction; non-2xx finals to INVITE are ACKed here.
import { randomBytes } from 'node:crypto';
import type { SipMessage } from 'sip';
import { SipTimeoutError, SipTransportError } from './errors.ts';
import { encodeSipMessage } from './message-codec.ts';
import type { Peer, SipTransport } from './transport.ts';
import type { SipTimers } from './types.ts';

export interface RequestOptions {
  /** Give up earlier than timers.timeout. */
  timeoutMs?: number;
  onProvisional?: (rs: SipMessage) => void;
}

interface Pending {
  rq: SipMessage;
  to: Peer;
  raw: Buffer;
  interval: number;
  retransmit?: NodeJS.Timeout;
  giveUp: NodeJS.Timeout;
  provisional: boolean;
  opts: RequestOptions;
  resolve: (rs: SipMessage) => void;
  reject: (err: Error) => void;
}

// One randomBytes() call per branch was a visible cost when every device coming online gets a
// query: take the bytes from a pool refilled 512 branches at a time (still the CSPRNG).
let randomPool = Buffer.alloc(0);
let randomAt = 0;

export function newBranch(): string {
  if (randomAt + 9 > randomPool.length) {
    randomPool = randomBytes(9 * 512);
    randomAt = 0;
  }
  randomAt += 9;
  return 'z9hG4bK' + randomPool.toString('base64url', randomAt - 9, randomAt);
}

export class ClientTransactions {
  readonly #pending = new Map<string, Pending>();

  constructor(
    private readonly transport: SipTransport,
    private readonly timers: Pick<SipTimers, 'T1' | 'T2' | 'timeout'>,
  ) {}

  /** Sends `rq` (its top Via must carry a fresh branch) and resolves with the final response, whatever its status. */
  request(rq: SipMessage, to: Peer, opts: RequestOptions = {}): Promise<SipMessage> {
    const branch = rq.headers.via?.[0]?.params?.branch;
    if (!branch) return Promise.reject(new TypeError('request needs a Via branch'));
    const key = `${branch}|${rq.headers.cseq!.method}`;
    const raw = encodeSipMessage(rq);
    return new Promise<SipMessage>((resolve, reject) => {
      const limit = Math.min(opts.timeoutMs ?? this.timers.timeout, this.timers.timeout);
      const p: Pending = {
        rq,
        to,
        raw,
        interval: this.timers.T1,
        provisional: false,
        opts,
        resolve,
        reject,
        giveUp: setTimeout(() => {
          this.#finish(key);
          reject(new SipTimeoutError(rq.method!, limit));
        }, limit),
      };
      this.#pending.set(key, p);
      // Over TCP a refused or broken connection fails the transaction now, not at timer B/F.
      this.transport.sendRaw(raw, to, (err) => {
        if (this.#pending.get(key) !== p) return;
        this.#finish(key);
        reject(new SipTransportError(rq.method!, err.message));
      });
      if (to.transport === 'udp') this.#schedule(key, p);
    });
  }

  #schedule(key: string, p: Pending): void {
    p.retransmit = setTimeout(() => {
      if (this.#pending.get(key) !== p) return;
      // An INVITE that got a provisional waits quietly (timer A stops, RFC 3261 §17.1.1.2).
      if (p.provisional && p.rq.method === 'INVITE') return;
      this.transport.sendRaw(p.raw, p.to);
      p.interval = Math.min(p.interval * 2, this.timers.T2);
      this.#schedule(key, p);
    }, p.interval);
  }

  /** True when the response belonged to a live client transaction. */
  onResponse(rs: SipMessage): boolean {
    const branch = rs.headers.via?.[0]?.params?.branch;
    const method = rs.headers.cseq?.method;
    if (!branch || !method) return false;
    const key = `${branch}|${method}`;
    const p = this.#pending.get(key);
    if (!p) return false;
    const status = rs.status ?? 0;
    if (status < 200) {
      p.provisional = true;
      p.opts.onProvisional?.(rs);
      return true;
    }
    this.#finish(key);
    if (p.rq.method === 'INVITE' && status >= 300) this.transport.send(ackForFailure(p.rq, rs), p.to);
    p.resolve(rs);
    return true;
  }

  #finish(key: string): void {
    const p = this.#pending.get(key);
    if (!p) return;
    this.#pending.delete(key);
    clearTimeout(p.giveUp);
    if (p.retransmit) clearTimeout(p.retransmit);
  }

  /** Rejects what is still pending. */
  close(reason: Error): void {
    for (const [key, p] of [...this.#pending]) {
      this.#finish(key);
      p.reject(reason);
    }
  }
}

/** ACK for a non-2xx final response: same branch, same Request-URI, To with the response's tag. */
function ackForFailure(invite: SipMessage, rs: SipMessage): SipMessage {
  return {
    method: 'ACK',
    uri: invite.uri,
    version: '2.0',
    headers: {
      via: invite.headers.via!.slice(0, 1),
      from: invite.headers.from,
      to: rs.headers.to,
      'call-id': invite.headers['call-id'],
      cseq: { seq: invite.headers.cseq!.seq, method: 'ACK' },
      'max-forwards': '70',
    },
  };
}
