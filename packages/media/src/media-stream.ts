import type { Logger } from 'pino';
import type { AccessUnit } from './access-unit.ts';
import { FlvMuxer } from './flv-muxer.ts';
import { HlsSegmenter, type LiveHlsSegmenter } from './hls-segmenter.ts';
import { NativeHlsSegmenter } from './native-hls-segmenter.ts';
import type { NmsPublisher } from './nms-host.ts';
import type { RtpPacket } from './rtp-packet.ts';
import type { RtpReceiver } from './rtp-receiver.ts';
import { RtpPsIngest } from './rtp-ps-ingest.ts';
import { TypedEmitter } from '@gb28181/common';
import type { MediaStreamEvents, MediaStreamStats, StreamTransport, TimeoutReason } from './types.ts';
import { ViewerCounter } from './viewer-counter.ts';

export interface MediaStreamInit {
  streamId: string;
  transport: StreamTransport;
  receiver: RtpReceiver;
  publisher: NmsPublisher;
  hlsDir: string;
  hls: { segmentSeconds: number; playlistSize: number; muxer?: 'native' | 'mediabunny' };
  noViewerCloseS: number;
  firstPacketTimeoutS: number;
  idleTimeoutS: number;
  reorderWindow: number;
  expectedSsrc?: number;
  logger: Logger;
  /** The engine forgets the stream and frees its port. */
  onClosed: (stream: MediaStream, reason: string) => void;
}

/**
 * One received stream: binds to the first RTP source, demuxes PS into access units and feeds
 * the FLV publish (RTMP / HTTP-FLV / WS-FLV) and the HLS segmenter. Owns its timeouts and viewers.
 */
export class MediaStream extends TypedEmitter<MediaStreamEvents> {
  readonly streamId: string;
  readonly transport: StreamTransport;
  readonly port: number;
  readonly hls: LiveHlsSegmenter;
  readonly #init: MediaStreamInit;
  readonly #log: Logger;
  readonly #ingest: RtpPsIngest;
  readonly #flv: FlvMuxer;
  readonly #viewers: ViewerCounter;
  readonly #openedAt = Date.now();
  #lastPacketAt = 0;
  #ssrcMismatch = false;
  #sawKeyFrame = false;
  #timedOut: TimeoutReason | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(init: MediaStreamInit) {
    super();
    this.#init = init;
    this.streamId = init.streamId;
    this.transport = init.transport;
    this.port = init.receiver.port;
    this.#log = init.logger.child({ streamId: init.streamId });
    this.emitterLogger = this.#log;
    this.#flv = new FlvMuxer({
      onTag: (tag) => init.publisher.sendTag(tag),
      onDrop: (reason) => this.#log.debug({ reason }, 'FLV dropped a unit'),
    });
    const hlsOptions = {
      dir: init.hlsDir,
      segmentSeconds: init.hls.segmentSeconds,
      playlistSize: init.hls.playlistSize,
      logger: this.#log,
    };
    this.hls = init.hls.muxer === 'mediabunny' ? new HlsSegmenter(hlsOptions) : new NativeHlsSegmenter(hlsOptions);
    this.#ingest = new RtpPsIngest({
      onAccessUnit: (au) => this.#onAccessUnit(au),
      reorderWindow: init.reorderWindow,
      logger: this.#log,
    });
    this.#viewers = new ViewerCounter({
      hlsWindowMs: Math.max(10_000, 3 * init.hls.segmentSeconds * 1000),
      noViewerCloseMs: init.noViewerCloseS * 1000,
      onChange: (n) => this.safeEmit('viewers', n),
      onNoViewers: () => this.safeEmit('noViewers'),
    });
    init.receiver.on('packet', (p) => this.#inputRtp(p));
    init.receiver.on('bound', ({ host, port }) => this.#log.info({ from: `${host}:${port}` }, 'RTP source bound'));
    init.receiver.on('disconnected', ({ reason }) => this.#log.info({ reason }, 'RTP connection ended'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The viewer bookkeeping, fed by the engine from node-media-server and HLS requests. */
  get viewerCounter(): ViewerCounter {
    return this.#viewers;
  }

  /** tcp-active: dial the device after its 200 OK. */
  async connect(host: string, port: number): Promise<void> {
    if (this.transport !== 'tcp-active') throw new TypeError(`connect() needs transport tcp-active, not ${this.transport}`);
    await this.#init.receiver.connect(host, port);
  }

  #inputRtp(packet: RtpPacket): void {
    if (this.#closed) return;
    if (this.#init.expectedSsrc !== undefined && packet.ssrc !== this.#init.expectedSsrc && !this.#ssrcMismatch) {
      this.#ssrcMismatch = true;
      this.#log.info({ expected: this.#init.expectedSsrc, got: packet.ssrc }, 'SSRC differs from the SDP answer');
    }
    this.#lastPacketAt = Date.now();
    if (this.#timedOut === 'idle') this.#timedOut = null;
    this.#ingest.input(packet);
  }

  #onAccessUnit(au: AccessUnit): void {
    if (au.kind === 'video' && au.key && !this.#sawKeyFrame) {
      this.#sawKeyFrame = true;
      this.safeEmit('firstKeyFrame');
    }
    try {
      this.#flv.input(au);
      this.hls.input(au);
    } catch (err) {
      // a malformed unit must not take the stream (or the process) down
      this.#log.warn({ err }, 'output dropped an access unit');
    }
  }

  /** Called by the engine about twice a second: timeouts and viewer expiry. */
  tick(now: number): void {
    if (this.#closed) return;
    this.#viewers.tick();
    if (this.#init.receiver.stats.firstPacketAt === undefined) {
      if (this.#timedOut === null && now - this.#openedAt >= this.#init.firstPacketTimeoutS * 1000) {
        this.#timedOut = 'no-first-packet';
        this.safeEmit('timeout', { reason: 'no-first-packet' });
      }
    } else if (this.#timedOut === null && now - this.#lastPacketAt >= this.#init.idleTimeoutS * 1000) {
      this.#timedOut = 'idle';
      // the source stopped: deliver what is held back and end the HLS playlist (#EXT-X-ENDLIST)
      this.#ingest.flush();
      void this.hls.finish();
      this.safeEmit('timeout', { reason: 'idle' });
    }
  }

  stats(): MediaStreamStats {
    const ingest = this.#ingest.stats;
    const rx = this.#init.receiver.stats;
    const out: MediaStreamStats = {
      firstPacketAt: rx.firstPacketAt,
      firstPacketFrom: rx.source,
      packets: ingest.packets,
      bytes: rx.bytes,
      lost: ingest.lost,
      frames: ingest.frames,
      viewers: this.#viewers.count,
      viewersByProtocol: this.#viewers.byProtocol(),
      droppedPackets: rx.dropped,
    };
    if (ingest.videoCodec) {
      out.video = { codec: ingest.videoCodec };
      if (this.#flv.width > 0) {
        out.video.width = this.#flv.width;
        out.video.height = this.#flv.height;
      }
    }
    if (ingest.audioCodec) out.audio = { codec: ingest.audioCodec };
    return out;
  }

  /** Ends the FLV sessions, deletes the HLS directory, frees the port. Idempotent. */
  close(reason: string): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = (async () => {
      this.#log.info({ reason }, 'stream closed');
      this.#flv.close();
      this.#init.publisher.end();
      await Promise.allSettled([this.#init.receiver.close(), this.hls.destroy()]);
      this.#init.onClosed(this, reason);
      this.safeEmit('close', { reason });
    })();
    return this.#closing;
  }
}
