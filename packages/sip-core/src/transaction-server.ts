// Server transactions reduced to what a UAS needs: a retransmitted request is answered with the
// response already sent (or ignored while the first copy is still being processed), never handled twice.
import type { SipMessage } from 'sip';
import { encodeSipMessage } from './message-codec.ts';
import type { Peer, SipTransport } from './transport.ts';

const PENDING = 0;

export class ServerTransactions {
  // Two generations rotated every half lifetime: O(1) expiry without a timer per transaction.
  #current = new Map<string, Buffer | typeof PENDING>();
  #previous = new Map<string, Buffer | typeof PENDING>();
  readonly #rotation: NodeJS.Timeout;

  constructor(
    private readonly transport: SipTransport,
    /** How long a response is kept for retransmissions (timer J, 64*T1; capped, see below). */
    lifetimeMs: number,
  ) {
    // Entries live between half and all of the period. Retransmissions after ~16 s are rare, and at
    // 5,000 REGISTER/s a full 32 s of responses would hold ~100 MB.
    this.#rotation = setInterval(() => {
      this.#previous = this.#current;
      this.#current = new Map();
    }, Math.max(50, Math.min(lifetimeMs, 16_000) / 2));
    this.#rotation.unref();
  }

  /**
   * True when `rq` repeats a request already seen (it has been answered again or is still
   * being processed): the caller must not handle it. Otherwise the transaction is opened.
   */
  absorb(rq: SipMessage, from: Peer): boolean {
    // Reliable transports do not retransmit (RFC 3261 §17.2.2: timer J is 0 over TCP).
    if (from.transport !== 'udp') return false;
    const key = transactionKey(rq, from);
    const seen = this.#current.get(key) ?? this.#previous.get(key);
    if (seen === undefined) {
      this.#current.set(key, PENDING);
      return false;
    }
    if (seen !== PENDING) this.transport.sendRaw(seen, from);
    return true;
  }

  /** Sends the final response and keeps it for retransmitted requests. */
  respond(rq: SipMessage, rs: SipMessage, to: Peer): void {
    const raw = encodeSipMessage(rs);
    this.transport.sendRaw(raw, to);
    if (to.transport === 'udp' && rs.status !== undefined && rs.status >= 200) this.#current.set(transactionKey(rq, to), raw);
  }

  close(): void {
    clearInterval(this.#rotation);
    this.#current.clear();
    this.#previous.clear();
  }
}

function transactionKey(rq: SipMessage, from: Peer): string {
  const via = rq.headers.via![0]!;
  const method = rq.method === 'ACK' ? 'INVITE' : rq.method!;
  // The branch alone would do (RFC 3261 §17.2.3), but some devices send a constant branch with every
  // request; Call-ID and CSeq keep their new requests from being taken for retransmissions.
  return `${via.params?.branch ?? ''}|${rq.headers['call-id']}|${rq.headers.cseq!.seq}|${method}|${from.host}:${from.port}`;
}
