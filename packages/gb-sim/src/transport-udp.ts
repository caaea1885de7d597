// One UDP socket of the simulator; several devices may share it (routed by id in the simulator).
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import { parseSipMessage } from './sip-codec.ts';
import type { LinkMessageHandler, PeerAddress, SimLink } from './sim-link.ts';

export class UdpLink implements SimLink {
  readonly transport = 'udp' as const;
  #closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly localHost: string,
    readonly localPort: number,
    private readonly server: PeerAddress,
  ) {}

  static async open(o: { bindHost: string; localHost: string; server: PeerAddress; onMessage: LinkMessageHandler; logger: Logger }): Promise<UdpLink> {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, o.bindHost, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const link = new UdpLink(socket, o.localHost, socket.address().port, o.server);
    socket.on('error', (err) => o.logger.warn({ err }, 'udp socket error'));
    socket.on('message', (buf, rinfo) => {
      const m = parseSipMessage(buf);
      if (!m) {
        o.logger.warn({ from: `${rinfo.address}:${rinfo.port}`, bytes: buf.length }, 'dropped unparsable SIP datagram');
        return;
      }
      o.onMessage(m, link, { host: rinfo.address, port: rinfo.port });
    });
    return link;
  }

  send(data: Buffer, to: PeerAddress = this.server): void {
    if (this.#closed) return;
    this.socket.send(data, to.port, to.host);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
