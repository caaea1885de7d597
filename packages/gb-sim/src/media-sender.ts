// Sends one stream of a simulated channel: access units at real time through the GB PS muxer
// and the RTP packetizer, over UDP, TCP towards the platform (it listens) or TCP from the
// platform (we listen), RFC 4571 framed.
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from 'pino';
import { PsMuxer, RtpPacketizer, frameRfc4571, type AccessUnit } from '@gb28181/media';
import type { PeerAddress } from './sim-link.ts';
import type { MediaTransport } from './sdp.ts';
import { TypedEmitter } from '@gb28181/common';

export type MediaSenderEvents = {
  /** The file was sent once (playback); live senders loop and never end. */
  end: [];
  error: [Error];
};

export interface MediaSenderOptions {
  accessUnits: AccessUnit[];
  fps: number;
  ssrc: number;
  transport: MediaTransport;
  /** Where the platform receives (offer c=/m=); unused for tcp-active. */
  remote: PeerAddress;
  bindHost: string;
  /** Live loops the file forever; playback sends it once then emits `end`. */
  loop: boolean;
  /** Send rate as a multiple of real time (Download's a=downloadspeed); default 1. */
  speed?: number;
  logger: Logger;
}

export class MediaSender extends TypedEmitter<MediaSenderEvents> {
  #udp?: dgram.Socket;
  #tcpServer?: net.Server;
  #tcp?: net.Socket;
  #timer?: NodeJS.Timeout;
  #closed = false;
  #paused = false;
  #index = 0;
  #round = 0;
  #t0 = 0;
  #sentFrames = 0;
  #connected?: () => void;
  readonly #muxer: PsMuxer;
  readonly #packetizer: RtpPacketizer;
  readonly #durationTicks: number;

  private constructor(private readonly o: MediaSenderOptions, readonly localPort: number) {
    super();
    this.emitterLogger = o.logger;
    const codec = o.accessUnits.find((a) => a.kind === 'video')?.codec === 'h265' ? 'h265' : 'h264';
    this.#muxer = new PsMuxer({ videoCodec: codec });
    this.#packetizer = new RtpPacketizer({ ssrc: o.ssrc, payloadType: 96 });
    this.#durationTicks = Math.round((o.accessUnits.length * 90000) / o.fps);
  }

  get framesSent(): number {
    return this.#sentFrames;
  }

  /** Opens the local end (a UDP socket, or for tcp-active a listening socket) and reports its port for the SDP answer. */
  static async prepare(o: MediaSenderOptions): Promise<MediaSender> {
    if (o.accessUnits.length === 0) throw new TypeError('no access units to send');
    if (o.transport === 'udp') {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(0, o.bindHost, () => resolve());
      });
      const sender = new MediaSender(o, s.address().port);
      sender.#udp = s;
      s.on('error', (err) => sender.safeEmit('error', err));
      return sender;
    }
    if (o.transport === 'tcp-active') {
      const srv = net.createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, o.bindHost, () => resolve());
      });
      const sender = new MediaSender(o, (srv.address() as net.AddressInfo).port);
      sender.#tcpServer = srv;
      srv.on('error', (err) => sender.safeEmit('error', err));
      srv.on('connection', (sock) => {
        if (sender.#tcp || sender.#closed) {
          sock.destroy();
          return;
        }
        sender.#adoptTcp(sock);
      });
      return sender;
    }
    // tcp-passive: we dial after the ACK; port 9 is the RFC 4145 placeholder for an active end.
    return new MediaSender(o, 9);
  }

  #adoptTcp(sock: net.Socket): void {
    sock.setNoDelay(true);
    this.#tcp = sock;
    this.#connected?.();
    sock.on('error', (err) => this.o.logger.debug({ err }, 'media tcp error'));
    sock.on('close', () => {
      if (this.#tcp === sock) this.#tcp = undefined;
    });
  }

  /** Starts sending (after the ACK). */
  async start(): Promise<void> {
    if (this.o.transport === 'tcp-passive') {
      const sock = net.connect({ host: this.o.remote.host, port: this.o.remote.port });
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      this.#adoptTcp(sock);
    } else if (this.o.transport === 'tcp-active' && !this.#tcp) {
      // The platform dials us after the ACK; frames before that would be lost.
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('platform did not connect for tcp-active media within 10 s')), 10_000);
        this.#connected = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.#t0 = performance.now();
    this.#tick();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    // Restart the clock so the frames after a pause are not sent in a burst.
    this.#t0 = performance.now() - (this.#sentFrames * 1000) / (this.o.fps * (this.o.speed ?? 1));
  }

  #tick(): void {
    if (this.#closed) return;
    const frameMs = 1000 / (this.o.fps * (this.o.speed ?? 1));
    // Catch up on frames whose time has come (timers are late under load), then sleep to the next.
    const due = Math.floor((performance.now() - this.#t0) / frameMs) + 1;
    while (!this.#paused && this.#sentFrames < due && !this.#closed) {
      if (this.#index >= this.o.accessUnits.length) {
        if (!this.o.loop) {
          this.safeEmit('end');
          return;
        }
        this.#index = 0;
        this.#round++;
      }
      this.#sendFrame(this.o.accessUnits[this.#index++]!);
      this.#sentFrames++;
    }
    const next = this.#t0 + (this.#sentFrames) * frameMs - performance.now();
    this.#timer = setTimeout(() => this.#tick(), Math.max(1, next));
  }

  #sendFrame(au: AccessUnit): void {
    const offset = this.#round * this.#durationTicks;
    const shifted: AccessUnit = { ...au, pts: au.pts + offset, dts: au.dts + offset };
    const pack = this.#muxer.mux(shifted);
    for (const pkt of this.#packetizer.packetize(pack, shifted.pts)) {
      if (this.#udp) this.#udp.send(pkt, this.o.remote.port, this.o.remote.host);
      else if (this.#tcp && !this.#tcp.destroyed) this.#tcp.write(frameRfc4571(pkt));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    const waits: Promise<void>[] = [];
    if (this.#udp) {
      const s = this.#udp;
      waits.push(new Promise((r) => s.close(() => r())));
    }
    if (this.#tcp) {
      const s = this.#tcp;
      waits.push(new Promise((r) => {
        s.once('close', () => r());
        s.end();
        setTimeout(() => s.destroy(), 500).unref();
      }));
    }
    if (this.#tcpServer) {
      const srv = this.#tcpServer;
      waits.push(new Promise((r) => srv.close(() => r())));
    }
    await Promise.all(waits);
  }
}
