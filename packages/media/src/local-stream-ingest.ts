import pino, { type Logger } from 'pino';
import { TypedEmitter } from '@gb28181/common';
import type { AccessUnit } from './access-unit.ts';
import type { RtpPacket } from './rtp-packet.ts';
import { RtpPsIngest } from './rtp-ps-ingest.ts';
import { RtpReceiver, type RtpTransport, type UdpReceivePath } from './rtp-receiver.ts';
import type { StreamIngest, StreamIngestEvents, StreamIngestStats } from './stream-ingest.ts';

export interface LocalStreamIngestOptions {
  transport: RtpTransport;
  bindIp: string;
  /** 0 = ephemeral */
  port: number;
  reorderWindow?: number;
  /** SSRC from the SDP answer; a different one is logged once, not dropped (devices lie) */
  expectedSsrc?: number;
  /** UDP receive path (RtpReceiverOptions.udpReceive) */
  udpReceive?: UdpReceivePath;
  /**
   * Datagrams are read into a buffer reused every event-loop turn and access units' bytes are valid
   * only during the 'accessUnit' event (RtpPsIngestOptions.transient): for a caller that copies
   * every unit at once, such as an ingest worker.
   */
  transient?: boolean;
  logger?: Logger;
}

/** RtpReceiver -> RtpPsIngest in the calling thread (the whole ingest of one stream). */
export class LocalStreamIngest extends TypedEmitter<StreamIngestEvents> implements StreamIngest {
  readonly #rx: RtpReceiver;
  readonly #ingest: RtpPsIngest;
  readonly #log: Logger;
  readonly #expectedSsrc?: number;
  #ssrcMismatch = false;
  #lastPacketAt?: number;
  #closed = false;

  private constructor(rx: RtpReceiver, o: LocalStreamIngestOptions, log: Logger) {
    super();
    this.#rx = rx;
    this.#log = log;
    this.emitterLogger = log;
    this.#expectedSsrc = o.expectedSsrc;
    this.#ingest = new RtpPsIngest({
      onAccessUnit: (au: AccessUnit) => this.safeEmit('accessUnit', au),
      reorderWindow: o.reorderWindow,
      transient: o.transient,
      logger: log,
    });
    rx.on('packet', (p) => this.#input(p));
    rx.on('bound', (b) => this.safeEmit('bound', b));
    rx.on('disconnected', (d) => this.safeEmit('disconnected', d));
  }

  static async open(o: LocalStreamIngestOptions): Promise<LocalStreamIngest> {
    const log = o.logger ?? pino({ level: 'silent' });
    const rx = await RtpReceiver.open({ transport: o.transport, bindIp: o.bindIp, port: o.port, udpReceive: o.udpReceive, transientPackets: o.transient, logger: log });
    return new LocalStreamIngest(rx, o, log);
  }

  get transport(): RtpTransport {
    return this.#rx.transport;
  }

  get port(): number {
    return this.#rx.port;
  }

  stats(): StreamIngestStats {
    const rx = this.#rx.stats;
    const ingest = this.#ingest.stats;
    return {
      packets: ingest.packets,
      bytes: rx.bytes,
      lost: ingest.lost,
      frames: ingest.frames,
      dropped: rx.dropped,
      droppedFrames: 0,
      firstPacketAt: rx.firstPacketAt,
      lastPacketAt: this.#lastPacketAt,
      source: rx.source,
      videoCodec: ingest.videoCodec,
      audioCodec: ingest.audioCodec,
    };
  }

  connect(host: string, port: number): Promise<void> {
    return this.#rx.connect(host, port);
  }

  flush(): Promise<void> {
    this.#ingest.flush();
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
    return this.#rx.close();
  }

  #input(p: RtpPacket): void {
    if (this.#closed) return;
    if (this.#expectedSsrc !== undefined && p.ssrc !== this.#expectedSsrc && !this.#ssrcMismatch) {
      this.#ssrcMismatch = true;
      this.#log.info({ expected: this.#expectedSsrc, got: p.ssrc }, 'SSRC differs from the SDP answer');
    }
    this.#lastPacketAt = Date.now();
    this.#ingest.input(p);
  }
}
