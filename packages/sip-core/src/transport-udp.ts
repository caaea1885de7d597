// One UDP socket; raw datagrams up, raw buffers down. Replies go to the datagram's source.
import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIPv4 } from 'node:net';
import type { Logger } from 'pino';

export type DatagramHandler = (raw: Buffer, host: string, port: number) => void;

export class UdpTransport {
  readonly #socket: dgram.Socket;
  // Kept from bind: address() is a getsockname syscall, and every request we originate asks for it.
  readonly #port: number;
  #closed = false;

  private constructor(socket: dgram.Socket) {
    this.#socket = socket;
    this.#port = socket.address().port;
  }

  static async bind(host: string, port: number, onDatagram: DatagramHandler, logger: Logger): Promise<UdpTransport> {
    const socket = dgram.createSocket({
      type: 'udp4',
      recvBufferSize: 4 * 1024 * 1024,
      sendBufferSize: 4 * 1024 * 1024,
      // We only ever send to source addresses (IP literals): skip dns.lookup's nextTick per datagram.
      lookup: (host, opts, cb) => (isIPv4(host) ? cb(null, host, 4) : dns.lookup(host, opts, cb)),
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => logger.warn({ err }, 'sip udp socket error'));
    socket.on('message', (raw, rinfo) => onDatagram(raw, rinfo.address, rinfo.port));
    return new UdpTransport(socket);
  }

  get port(): number {
    return this.#port;
  }

  send(raw: Buffer, host: string, port: number): void {
    if (this.#closed) return;
    this.#socket.send(raw, port, host);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
}
