import type { Logger } from 'pino';
import type { AccessUnit } from './access-unit.ts';
import { FlvGopMemory } from './flv-gop-memory.ts';
import { FlvMuxer } from './flv-muxer.ts';
import { HlsSegmenter, type LiveHlsSegmenter } from './hls-segmenter.ts';
import { NativeHlsSegmenter } from './native-hls-segmenter.ts';
import type { NmsPublisher } from './nms-host.ts';
import { INGEST_FAILED, type StreamIngest } from './stream-ingest.ts';
import { TypedEmitter } from '@gb28181/common';
import { TimelineContinuity } from './timeline-continuity.ts';
import type { MediaStreamEvents, MediaStreamStats, StreamTransport, TimeoutReason } from './types.ts';
import { ViewerCounter } from './viewer-counter.ts';

export interface MediaStreamInit {
  streamId: string;
  transport: StreamTransport;
  /** the receive port and RTP/PS ingest, in this thread or in an ingest worker */
  ingest: StreamIngest;
  publisher: NmsPublisher;
  hlsDir: string;
  hls: { segmentSeconds: number; playlistSize: number; muxer?: 'native' | 'mediabunny' };
  noViewerCloseS: number;
  firstPacketTimeoutS: number;
  idleTimeoutS: number;
  logger: Logger;
  /** The engine forgets the stream and frees its port. */
  onClosed: (stream: MediaStream, reason: string) => void;
}

/**
 * One received stream: its ingest (bound to the first RTP source, PS demuxed into access units)
 * feeds the FLV publish (RTMP / HTTP-FLV / WS-FLV) and the HLS segmenter. Owns its timeouts and viewers.
 */
export class MediaStream extends TypedEmitter<MediaStreamEvents> {
  readonly streamId: string;
  readonly transport: StreamTransport;
  readonly port: number;
  readonly hls: LiveHlsSegmenter;
  readonly #init: MediaStreamInit;
  readonly #log: Logger;
  readonly #ingest: StreamIngest;
  readonly #flv: FlvMuxer;
  readonly #viewers: ViewerCounter;
  readonly #openedAt = Date.now();
  /** lastPacketAt when the idle timeout fired: a later packet re-arms it */
  #idleAt = 0;
  #sawKeyFrame = false;
  readonly #timeline = new TimelineContinuity();
  #timedOut: TimeoutReason | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(init: MediaStreamInit) {
    super();
    this.#init = init;
    this.streamId = init.streamId;
    this.transport = init.transport;
    this.port = init.ingest.port;
    this.#log = init.logger.child({ streamId: init.streamId });
    this.emitterLogger = this.#log;
    const tagMemory = new FlvGopMemory();
    this.#flv = new FlvMuxer({
      alloc: (n) => tagMemory.alloc(n),
      onKeyFrame: () => tagMemory.keyFrame(),
      onTag: (tag) => tagMemory.sent(init.publisher.sendTag(tag), init.publisher.players),
      onDrop: (reason) => this.#log.debug({ reason }, 'FLV dropped a unit'),
    });
    const hlsOptions = {
      dir: init.hlsDir,
      segmentSeconds: init.hls.segmentSeconds,
      playlistSize: init.hls.playlistSize,
      logger: this.#log,
    };
    this.hls = init.hls.muxer === 'mediabunny' ? new HlsSegmenter(hlsOptions) : new NativeHlsSegmenter(hlsOptions);
    this.#ingest = init.ingest;
    this.#viewers = new ViewerCounter({
      hlsWindowMs: Math.max(10_000, 3 * init.hls.segmentSeconds * 1000),
      noViewerCloseMs: init.noViewerCloseS * 1000,
      onChange: (n) => this.safeEmit('viewers', n),
      onNoViewers: () => this.safeEmit('noViewers'),
    });
    init.ingest.on('accessUnit', (au) => this.#onAccessUnit(au));
    init.ingest.on('bound', ({ host, port }) => this.#log.info({ from: `${host}:${port}` }, 'RTP source bound'));
    init.ingest.on('disconnected', ({ reason }) => this.#log.info({ reason }, 'RTP connection ended'));
    init.ingest.on('failed', ({ reason }) => {
      this.#log.error({ reason }, 'stream ingest failed; closing the stream');
      void this.close(INGEST_FAILED);
    });
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
    await this.#ingest.connect(host, port);
  }

  #onAccessUnit(au: AccessUnit): void {
    if (this.#closed) return;
    const jumps = this.#timeline.jumps;
    this.#timeline.apply(au);
    if (this.#timeline.jumps !== jumps) this.#log.info({ jumps: this.#timeline.jumps }, 'source timestamps jumped; outputs continue');
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
    const { firstPacketAt, lastPacketAt = 0 } = this.#ingest.stats();
    if (firstPacketAt === undefined) {
      if (this.#timedOut === null && now - this.#openedAt >= this.#init.firstPacketTimeoutS * 1000) {
        this.#timedOut = 'no-first-packet';
        this.safeEmit('timeout', { reason: 'no-first-packet' });
      }
      return;
    }
    if (this.#timedOut === 'idle' && lastPacketAt > this.#idleAt) this.#timedOut = null;
    if (this.#timedOut === null && now - lastPacketAt >= this.#init.idleTimeoutS * 1000) {
      this.#timedOut = 'idle';
      this.#idleAt = lastPacketAt;
      // the source stopped: deliver what is held back (a worker sends it first), then end the
      // HLS playlist (#EXT-X-ENDLIST)
      this.#ingest
        .flush()
        .catch((err: unknown) => this.#log.warn({ err }, 'ingest flush failed'))
        .then(() => {
          if (this.#closed) return;
          void this.hls.finish();
          this.safeEmit('timeout', { reason: 'idle' });
        });
    }
  }

  stats(): MediaStreamStats {
    const ingest = this.#ingest.stats();
    const out: MediaStreamStats = {
      firstPacketAt: ingest.firstPacketAt,
      firstPacketFrom: ingest.source,
      packets: ingest.packets,
      bytes: ingest.bytes,
      lost: ingest.lost,
      frames: ingest.frames,
      viewers: this.#viewers.count,
      viewersByProtocol: this.#viewers.byProtocol(),
      droppedPackets: ingest.dropped,
      droppedFrames: ingest.droppedFrames,
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
      await Promise.allSettled([this.#ingest.close(), this.hls.destroy()]);
      this.#init.onClosed(this, reason);
      this.safeEmit('close', { reason });
    })();
    return this.#closing;
  }
}
