// UDP and TCP on one port. Decodes messages, answers malformed requests with 400 (or logs and
// drops them), and hands everything else up through one callback with its source address.
import type { Logger } from 'pino';
import type { SipMessage } from 'sip';
import { badRequestFor, decodeSipMessage, encodeSipMessage, SipParseError } from './message-codec.ts';
import { TcpTransport } from './transport-tcp.ts';
import { UdpTransport } from './transport-udp.ts';
import type { SipTransportName } from './types.ts';

export interface Peer {
  host: string;
  port: number;
  transport: SipTransportName;
}

export interface Inbound {
  msg: SipMessage;
  /** Bytes as received (kept for diagnosis and replay). */
  raw: Buffer;
  source: Peer;
}

export type InboundHandler = (inbound: Inbound) => void;

export class SipTransport {
  #udp!: UdpTransport;
  #tcp!: TcpTransport;
  #closed = false;
  #dropLog: DropLog;

  private constructor(
    private readonly onInbound: InboundHandler,
    private readonly logger: Logger,
  ) {
    this.#dropLog = new DropLog(logger);
  }

  /** Port 0 picks an ephemeral UDP port and retries until TCP gets the same number. */
  static async listen(host: string, port: number, onInbound: InboundHandler, logger: Logger): Promise<SipTransport> {
    const t = new SipTransport(onInbound, logger);
    const onDatagram = (raw: Buffer, h: string, p: number) => t.#receive(raw, { host: h, port: p, transport: 'udp' });
    const onStream = (raw: Buffer, h: string, p: number) => t.#receive(raw, { host: h, port: p, transport: 'tcp' });
    const onStreamError = (reason: string, head: Buffer | undefined, h: string, p: number) =>
      t.#reject(new SipParseError(reason, head ? salvageHead(head) : undefined), head, { host: h, port: p, transport: 'tcp' });
    for (let attempt = 0; ; attempt++) {
      const udp = await UdpTransport.bind(host, port, onDatagram, logger);
      try {
        t.#tcp = await TcpTransport.listen(host, udp.port, onStream, onStreamError, logger);
        t.#udp = udp;
        return t;
      } catch (err) {
        await udp.close();
        if (port !== 0 || attempt >= 20 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
  }

  get port(): number {
    return this.#udp.port;
  }

  send(msg: SipMessage, to: Peer): void {
    this.sendRaw(encodeSipMessage(msg), to);
  }

  /** `onError`: a TCP connection to the peer could not be made or broke (UDP has no such signal). */
  sendRaw(raw: Buffer, to: Peer, onError?: (err: Error) => void): void {
    if (this.#closed) return;
    if (to.transport === 'tcp') this.#tcp.send(raw, to.host, to.port, onError);
    else this.#udp.send(raw, to.host, to.port);
  }

  #receive(raw: Buffer, source: Peer): void {
    let msg: SipMessage;
    try {
      msg = decodeSipMessage(raw);
    } catch (err) {
      // CRLF keepalive pings (RFC 5626) are not errors.
      if (raw.length <= 4 && raw.every((b) => b === 0x0d || b === 0x0a)) return;
      this.#reject(err, raw, source);
      return;
    }
    try {
      this.onInbound({ msg, raw, source });
    } catch (err) {
      this.logger.error({ err, host: source.host, port: source.port }, 'sip: handler threw; message dropped');
    }
  }

  #reject(err: unknown, raw: Buffer | undefined, source: Peer): void {
    const reason = err instanceof Error ? err.message : String(err);
    const partial = err instanceof SipParseError ? err.partial : undefined;
    const answer = badRequestFor(partial, reason);
    if (answer) {
      try {
        this.send(answer, source);
      } catch (e) {
        this.logger.debug({ err: e }, 'sip: could not send 400');
      }
    }
    this.#dropLog.note(reason, source, answer !== undefined, raw);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#udp.close(), this.#tcp.close()]);
  }
}

/** Logs malformed input without letting a flood of junk flood the log. */
class DropLog {
  #windowStart = 0;
  #inWindow = 0;
  #suppressed = 0;
  constructor(private readonly logger: Logger) {}

  note(reason: string, source: Peer, answered: boolean, raw: Buffer | undefined): void {
    const now = Date.now();
    if (now - this.#windowStart > 10_000) {
      if (this.#suppressed > 0) this.logger.warn({ suppressed: this.#suppressed }, 'sip: more malformed messages were dropped');
      this.#windowStart = now;
      this.#inWindow = 0;
      this.#suppressed = 0;
    }
    if (++this.#inWindow > 20) {
      this.#suppressed++;
      return;
    }
    this.logger.warn(
      { reason, host: source.host, port: source.port, transport: source.transport, answered, head: raw?.subarray(0, 120).toString('latin1') },
      answered ? 'sip: malformed request answered 400' : 'sip: malformed message dropped',
    );
  }
}

/** What a refused stream message's header section still tells us (to address a 400). */
function salvageHead(head: Buffer): SipMessage | undefined {
  try {
    return decodeSipMessage(head);
  } catch (err) {
    return err instanceof SipParseError ? err.partial : undefined;
  }
}
