import dgram from 'node:dgram';
import net from 'node:net';
import pino, { type Logger } from 'pino';
import { InvalidStateError } from './errors.ts';
import { parseRtpPacket, type RtpPacket } from './rtp-packet.ts';
import { RtpTcpFramer } from './rtp-tcp-framer.ts';
import { TypedEmitter } from '@gb28181/common';
import { UdpBatchSocket, udpBatchAvailable, udpBatchUnavailableReason, type DatagramSource, type SourceKey } from '@gb28181/udp-batch';

export type RtpTransport = 'udp' | 'tcp-passive' | 'tcp-active';

/**
 * How UDP datagrams are read: 'batch' = recvmmsg through @gb28181/udp-batch (many datagrams per
 * syscall, one JS call per event-loop turn for all sockets of the thread), 'dgram' = node:dgram
 * (one syscall, Buffer and rinfo per datagram: about 2.5x the receive CPU).
 */
export type UdpReceivePath = 'batch' | 'dgram';

export interface RtpReceiverOptions {
  transport: RtpTransport;
  bindIp: string;
  /** 0 = ephemeral. For tcp-active this is our local port; we connect later. */
  port: number;
  /** Default 'batch' where the addon loaded (Linux, built at install), else 'dgram'; 'batch' without it falls back to 'dgram'. */
  udpReceive?: UdpReceivePath;
  /**
   * Batched UDP receive hands packets over as views of a buffer reused every event-loop turn
   * (UdpBatchSocketOptions.transientData): 'packet' listeners copy what they keep.
   */
  transientPackets?: boolean;
  logger?: Logger;
}

export interface RtpReceiverStats {
  /** RTP packets accepted from the bound source */
  packets: number;
  bytes: number;
  /** datagrams from other sources, rejected TCP connections, unparseable packets */
  dropped: number;
  firstPacketAt?: number;
  /** ip:port the receiver is bound to (first sender / first TCP connection) */
  source?: string;
}

export type RtpReceiverEvents = {
  packet: [RtpPacket];
  bound: [{ host: string; port: number }];
  /** the bound TCP connection ended (TCP transports only) */
  disconnected: [{ reason: string }];
  error: [Error];
  close: [];
};

/** UDP receive buffer asked for; the kernel caps it at net.core.rmem_max. */
const UDP_RECV_BUFFER = 4 * 1024 * 1024;
/** Longest datagram taken (either path; the batch path never sees more of one): RTP over UDP stays under the MTU. */
const MAX_RTP_DATAGRAM = 9216;

/** Which receive path this thread uses is logged once, at the first UDP receiver. */
let receivePathLogged = false;

/** The UDP receive path a receiver will use: the one asked for when it can, 'dgram' otherwise. */
export function udpReceivePath(wanted: UdpReceivePath | undefined, bindIp: string): UdpReceivePath {
  if (wanted === 'dgram') return 'dgram';
  // the addon binds IP literals only; a host name goes through dgram's lookup
  return udpBatchAvailable() && net.isIP(bindIp) !== 0 ? 'batch' : 'dgram';
}

function isRtcp(buf: Buffer): boolean {
  // RTCP packet types 200..204 sit where RTP has marker + payload type (rtcp-mux, `$` odd channels)
  return buf.length >= 2 && buf[1] >= 200 && buf[1] <= 204;
}

/**
 * One port, one stream: receives RTP over UDP, TCP passive (we listen) or TCP active (we dial
 * the device). It binds to the first source and drops anything from others, whatever the SSRC.
 */
export class RtpReceiver extends TypedEmitter<RtpReceiverEvents> {
  readonly transport: RtpTransport;
  readonly stats: RtpReceiverStats = { packets: 0, bytes: 0, dropped: 0 };
  #port: number;
  readonly #bindIp: string;
  readonly #log: Logger;
  #udp?: dgram.Socket;
  #udpBatch?: UdpBatchSocket;
  readonly #udpReceive?: UdpReceivePath;
  readonly #transientPackets: boolean;
  #server?: net.Server;
  #conn?: net.Socket;
  #closed = false;
  #closing?: Promise<void>;
  /** UDP: the source bound to (the first sender) */
  #boundAddress = '';
  #boundPort = -1;
  /** UDP batch path: the bound source, compared without strings */
  #boundKey?: SourceKey;

  private constructor(o: RtpReceiverOptions) {
    super();
    this.transport = o.transport;
    this.#port = o.port;
    this.#bindIp = o.bindIp;
    this.#udpReceive = o.udpReceive;
    this.#transientPackets = o.transientPackets ?? false;
    this.#log = o.logger ?? pino({ level: 'silent' });
    this.emitterLogger = this.#log;
  }

  static async open(o: RtpReceiverOptions): Promise<RtpReceiver> {
    if (!['udp', 'tcp-passive', 'tcp-active'].includes(o.transport)) throw new TypeError(`bad transport ${String(o.transport)}`);
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new TypeError(`bad port ${o.port}`);
    if (o.udpReceive !== undefined && o.udpReceive !== 'batch' && o.udpReceive !== 'dgram') throw new TypeError(`bad udpReceive ${String(o.udpReceive)}`);
    const r = new RtpReceiver(o);
    if (o.transport === 'udp') await r.#openUdp();
    else if (o.transport === 'tcp-passive') await r.#openTcpServer();
    else if (o.port === 0) r.#port = await freeTcpPort(o.bindIp);
    return r;
  }

  get port(): number {
    return this.#port;
  }

  /** UDP: the receive path in use ('batch' or 'dgram'); undefined for TCP. */
  get udpReceive(): UdpReceivePath | undefined {
    return this.#udpBatch ? 'batch' : this.#udp ? 'dgram' : undefined;
  }

  /** tcp-active: dial the device (its answer's c=/m=) from our port. */
  async connect(host: string, port: number): Promise<void> {
    if (this.transport !== 'tcp-active') throw new TypeError('connect() is for tcp-active receivers');
    if (this.#closed) throw new InvalidStateError('receiver is closed');
    if (this.#conn) throw new InvalidStateError('already connected');
    let sock: net.Socket;
    try {
      sock = await dial({ host, port, localAddress: this.#bindIp, localPort: this.#port });
    } catch (err) {
      // Our port may still be in TIME_WAIT from an earlier stream: the device does not care which port we use.
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      sock = await dial({ host, port, localAddress: this.#bindIp });
    }
    if (this.#closed) {
      sock.destroy();
      throw new InvalidStateError('receiver is closed');
    }
    this.#attach(sock);
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = (async () => {
      this.#conn?.destroy();
      // no datagram is handled after this call, the port is free when it resolves
      await this.#udpBatch?.close();
      const udp = this.#udp;
      if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
      const server = this.#server;
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
      this.safeEmit('close');
    })();
    return this.#closing;
  }

  #openUdp(): Promise<void> {
    const path = udpReceivePath(this.#udpReceive, this.#bindIp);
    if (!receivePathLogged) {
      receivePathLogged = true;
      const reason = path === 'batch' ? undefined : this.#udpReceive === 'dgram' ? 'asked for' : (udpBatchUnavailableReason() ?? 'bind address is not an IP literal');
      this.#log.info({ udpReceive: path, reason }, path === 'batch' ? 'RTP over UDP received with recvmmsg (udp-batch addon)' : 'RTP over UDP received with node:dgram');
    }
    if (path === 'batch') {
      this.#udpBatch = UdpBatchSocket.open({
        host: this.#bindIp,
        port: this.#port,
        recvBufferBytes: UDP_RECV_BUFFER,
        maxDatagramBytes: MAX_RTP_DATAGRAM,
        transientData: this.#transientPackets,
        onDatagram: (data, from) => this.#onBatchDatagram(data, from),
        onOversize: (from) => {
          this.stats.dropped++;
          this.#log.debug({ from: `${from.address}:${from.port}`, max: MAX_RTP_DATAGRAM }, 'oversize datagram; dropped');
        },
        onError: (err) => this.#log.warn({ err, port: this.#port }, 'rtp packet handler threw'),
      });
      this.#port = this.#udpBatch.port;
      return Promise.resolve();
    }
    const sock = dgram.createSocket({ type: net.isIPv6(this.#bindIp) ? 'udp6' : 'udp4' });
    this.#udp = sock;
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.#port, this.#bindIp, () => {
        sock.off('error', reject);
        try {
          sock.setRecvBufferSize(UDP_RECV_BUFFER);
        } catch (err) {
          this.#log.debug({ err }, 'could not enlarge UDP receive buffer');
        }
        this.#port = sock.address().port;
        sock.on('error', (err) => {
          this.#log.warn({ err, port: this.#port }, 'rtp udp socket error');
          this.safeEmit('error', err);
        });
        sock.on('message', (msg, rinfo) => this.#onDatagram(msg, rinfo));
        resolve();
      });
    });
  }

  #onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length > MAX_RTP_DATAGRAM) {
      // as the batch path does (it never sees more than this of a datagram)
      this.stats.dropped++;
      return;
    }
    // compared field by field: building the ip:port string for each datagram costs at 50k datagrams/s
    if (this.stats.source !== undefined && (rinfo.port !== this.#boundPort || rinfo.address !== this.#boundAddress)) {
      this.stats.dropped++;
      return;
    }
    if (this.#onUdpPacket(msg, rinfo)) {
      this.#boundAddress = rinfo.address;
      this.#boundPort = rinfo.port;
    }
  }

  #onBatchDatagram(data: Buffer, from: DatagramSource): void {
    if (this.#boundKey !== undefined && !from.is(this.#boundKey)) {
      this.stats.dropped++;
      return;
    }
    if (this.#onUdpPacket(data, from)) this.#boundKey = from.key();
  }

  /**
   * A datagram from the bound source (or the first one): RTCP skipped, RTP parsed and accepted.
   * True when it bound the receiver to its source; the caller keeps that source in its own form.
   */
  #onUdpPacket(data: Buffer, from: { readonly address: string; readonly port: number }): boolean {
    if (isRtcp(data)) return false;
    const pkt = parseRtpPacket(data);
    if (!pkt) {
      this.stats.dropped++;
      this.#log.debug({ from: `${from.address}:${from.port}`, length: data.length }, 'not an RTP packet; dropped');
      return false;
    }
    const binds = this.stats.source === undefined;
    if (binds) {
      const { address: host, port } = from;
      this.stats.source = `${host}:${port}`;
      this.#log.debug({ from: this.stats.source, port: this.#port }, 'rtp source bound');
      this.safeEmit('bound', { host, port });
    }
    this.#accept(pkt, data.length);
    return binds;
  }

  #openTcpServer(): Promise<void> {
    const server = net.createServer((sock) => this.#onConnection(sock));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.#bindIp, port: this.#port }, () => {
        server.off('error', reject);
        this.#port = (server.address() as net.AddressInfo).port;
        server.on('error', (err) => {
          this.#log.warn({ err, port: this.#port }, 'rtp tcp server error');
          this.safeEmit('error', err);
        });
        resolve();
      });
    });
  }

  #onConnection(sock: net.Socket): void {
    const host = sock.remoteAddress ?? '';
    // One connection at a time; after it ends only the same host may come back (device reconnect).
    const boundHost = this.stats.source?.slice(0, this.stats.source.lastIndexOf(':'));
    if (this.#conn || (boundHost !== undefined && boundHost !== host)) {
      this.stats.dropped++;
      this.#log.debug({ from: `${host}:${sock.remotePort}` }, 'second rtp/tcp connection rejected');
      sock.destroy();
      return;
    }
    this.#attach(sock);
  }

  #attach(sock: net.Socket): void {
    this.#conn = sock;
    const host = sock.remoteAddress ?? '';
    const port = sock.remotePort ?? 0;
    this.stats.source = `${host}:${port}`;
    sock.setNoDelay(true);
    this.safeEmit('bound', { host, port });
    const framer = new RtpTcpFramer((buf) => {
      if (isRtcp(buf)) return;
      const pkt = parseRtpPacket(buf);
      if (!pkt) {
        this.stats.dropped++;
        return;
      }
      this.#accept(pkt, buf.length);
    }, this.#log);
    sock.on('data', (chunk: Buffer) => framer.push(chunk));
    sock.on('error', (err) => this.#log.debug({ err, port: this.#port }, 'rtp tcp connection error'));
    sock.on('close', (hadError) => {
      if (this.#conn === sock) this.#conn = undefined;
      if (!this.#closed) this.safeEmit('disconnected', { reason: hadError ? 'error' : 'closed by peer' });
    });
  }

  #accept(pkt: RtpPacket, length: number): void {
    this.stats.packets++;
    this.stats.bytes += length;
    this.stats.firstPacketAt ??= Date.now();
    this.safeEmit('packet', pkt);
  }
}

function dial(o: net.TcpNetConnectOpts): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(o);
    sock.once('connect', () => {
      sock.off('error', reject);
      resolve(sock);
    });
    sock.once('error', reject);
  });
}

/** An ephemeral local port for tcp-active, found by listening on port 0 briefly. */
function freeTcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host, port: 0 }, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
