// A TCP listener plus the connections devices opened to us (or we opened to them). Each
// connection is framed by Content-Length; replies and requests to a device reuse its connection.
import net from 'node:net';
import type { Logger } from 'pino';
import { StreamFramer } from './stream-framer.ts';

export type StreamMessageHandler = (raw: Buffer, host: string, port: number) => void;
export type StreamErrorHandler = (reason: string, head: Buffer | undefined, host: string, port: number) => void;

/** Connections idle this long are closed (devices send keepalives far more often). */
const IDLE_MS = 10 * 60 * 1000;

export class TcpTransport {
  readonly #server: net.Server;
  readonly #connections = new Map<string, net.Socket>();
  readonly #logger: Logger;
  #closed = false;

  private constructor(
    server: net.Server,
    private readonly onMessage: StreamMessageHandler,
    private readonly onError: StreamErrorHandler,
    logger: Logger,
  ) {
    this.#server = server;
    this.#logger = logger;
    server.on('connection', (socket) => this.#adopt(socket));
    server.on('error', (err) => logger.warn({ err }, 'sip tcp server error'));
  }

  static async listen(
    host: string,
    port: number,
    onMessage: StreamMessageHandler,
    onError: StreamErrorHandler,
    logger: Logger,
  ): Promise<TcpTransport> {
    const server = net.createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new TcpTransport(server, onMessage, onError, logger);
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  #adopt(socket: net.Socket, knownHost?: string, knownPort?: number): void {
    const host = knownHost ?? normaliseHost(socket.remoteAddress ?? '');
    const port = knownPort ?? socket.remotePort ?? 0;
    const key = `${host}:${port}`;
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#connections.set(key, socket);
    socket.setTimeout(IDLE_MS);
    const framer = new StreamFramer({
      message: (raw) => this.onMessage(raw, host, port),
      error: (reason, head) => {
        this.onError(reason, head, host, port);
        // Let the 400 (if any) go out before the connection ends.
        socket.end();
      },
      skipped: (bytes) => {
        if (bytes > 0) this.#logger.debug({ host, port, bytes }, 'sip tcp: skipped bytes before a start line');
      },
    });
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    socket.on('timeout', () => socket.destroy());
    socket.on('error', (err) => this.#logger.debug({ err, host, port }, 'sip tcp connection error'));
    socket.on('close', () => {
      framer.close();
      if (this.#connections.get(key) === socket) this.#connections.delete(key);
    });
  }

  /**
   * Sends on the connection to host:port, dialling one when there is none. `onError` hears of a
   * connection that could not be made or broke before the bytes were written.
   */
  send(raw: Buffer, host: string, port: number, onError?: (err: Error) => void): void {
    if (this.#closed) return;
    const key = `${host}:${port}`;
    let socket = this.#connections.get(key);
    if (!socket || socket.destroyed) {
      socket = net.connect({ host, port, noDelay: true });
      this.#adopt(socket, host, port);
      if (onError) {
        const s = socket;
        const failed = (err: Error) => onError(err);
        s.once('error', failed);
        s.once('connect', () => s.off('error', failed));
      }
    }
    socket.write(raw, (err) => {
      if (err && onError) onError(err);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#connections.values()) s.destroy();
    this.#connections.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

function normaliseHost(h: string): string {
  return h.startsWith('::ffff:') ? h.slice(7) : h;
}
