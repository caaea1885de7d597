// A device's own TCP connection to the server (GB devices keep one and receive requests on it).
// Reconnects lazily on the next send when the server closed it.
import net from 'node:net';
import type { Logger } from 'pino';
import { createSipStreamParser } from './sip-codec.ts';
import type { LinkMessageHandler, PeerAddress, SimLink } from './sim-link.ts';

export class TcpLink implements SimLink {
  readonly transport = 'tcp' as const;
  #socket?: net.Socket;
  #closed = false;
  #localPort = 0;

  private constructor(
    readonly localHost: string,
    private readonly server: PeerAddress,
    private readonly onMessage: LinkMessageHandler,
    private readonly logger: Logger,
  ) {}

  get localPort(): number {
    return this.#localPort;
  }

  static async open(o: { localHost: string; server: PeerAddress; onMessage: LinkMessageHandler; logger: Logger }): Promise<TcpLink> {
    const link = new TcpLink(o.localHost, o.server, o.onMessage, o.logger);
    await link.#connect();
    return link;
  }

  #connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.server.host, port: this.server.port, noDelay: true });
      this.#socket = socket;
      const parse = createSipStreamParser(
        (m) => this.onMessage(m, this, this.server),
        () => {
          this.logger.warn('oversized or unparsable SIP stream from server, closing connection');
          socket.destroy();
        },
      );
      socket.once('connect', () => {
        this.#localPort = socket.localPort ?? 0;
        resolve();
      });
      // Errors after the connect are logged; the close that follows makes the next send reconnect.
      socket.on('error', (err) => {
        this.logger.debug({ err }, 'tcp link error');
        reject(err);
      });
      socket.on('data', parse);
      socket.on('close', () => {
        if (this.#socket === socket) this.#socket = undefined;
      });
    });
  }

  send(data: Buffer): void {
    if (this.#closed) return;
    if (this.#socket && !this.#socket.destroyed) {
      this.#socket.write(data);
      return;
    }
    this.#connect().then(
      () => this.#socket?.write(data),
      (err: unknown) => this.logger.warn({ err }, 'tcp reconnect failed; message dropped'),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const s = this.#socket;
    if (!s || s.destroyed) return;
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.end();
      setTimeout(() => s.destroy(), 500).unref();
    });
  }
}
