import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { InvalidStateError } from './errors.ts';
import { createHlsHttpHook } from './hls-server.ts';
import { MediaStream } from './media-stream.ts';
import { nmsHost, type PlayerEvent } from './nms-host.ts';
import { PortPool } from './port-pool.ts';
import { IngestWorkerPool } from './ingest-worker-pool.ts';
import { LocalStreamIngest } from './local-stream-ingest.ts';
import type { UdpReceivePath } from './rtp-receiver.ts';
import type { StreamIngest } from './stream-ingest.ts';
import { TypedEmitter } from '@gb28181/common';
import type { MediaEngineEvents, MediaEngineOptions, OpenStreamOptions } from './types.ts';

const APP = 'rtp';
const STREAM_ID = /^[A-Za-z0-9_-]{1,64}$/;
const TICK_MS = 500;

/**
 * The media composition root: RTP ports, one MediaStream per received stream, node-media-server
 * (RTMP / HTTP-FLV / WS-FLV) and HLS on its HTTP port. Several engines may share one process:
 * they share node-media-server (one per process) and must then agree on its ports. With
 * `ingestWorkers` > 0 each stream's socket, RTP parse, reorder and PS demux run in an ingest worker
 * thread (IngestWorkerPool); outputs stay here, next to node-media-server.
 */
export class MediaEngine extends TypedEmitter<MediaEngineEvents> {
  readonly #o: Required<Omit<MediaEngineOptions, 'logger' | 'ingestWorkers' | 'udpReceive'>>;
  readonly #log: Logger;
  readonly #pool: PortPool;
  readonly #streams = new Map<string, MediaStream>();
  readonly #opening = new Set<string>();
  readonly #ingestWorkers: number;
  readonly #udpReceive?: UdpReceivePath;
  #ingest: IngestWorkerPool | null = null;
  #timer: NodeJS.Timeout | null = null;
  #removeHook: () => void = () => {};
  #closed = false;
  #closing: Promise<void> | null = null;

  private constructor(o: MediaEngineOptions) {
    super();
    this.#o = {
      hls: { segmentSeconds: 2, playlistSize: 6 },
      noViewerCloseS: 300,
      firstPacketTimeoutS: 10,
      idleTimeoutS: 10,
      reorderWindow: 32,
      playSecret: '',
      ...o,
      hlsDir: o.hlsDir ?? join(o.dataDir, 'hls'),
    };
    this.#log = o.logger ?? pino({ level: 'silent' });
    this.emitterLogger = this.#log;
    this.#pool = new PortPool(o.rtpPorts, o.bindIp);
    this.#udpReceive = o.udpReceive;
    if (o.udpReceive !== undefined && o.udpReceive !== 'batch' && o.udpReceive !== 'dgram') {
      throw new TypeError(`udpReceive must be 'batch' or 'dgram', not ${String(o.udpReceive)}`);
    }
    this.#ingestWorkers = o.ingestWorkers ?? defaultIngestWorkers();
    if (!Number.isInteger(this.#ingestWorkers) || this.#ingestWorkers < 0) {
      throw new TypeError(`ingestWorkers must be an integer >= 0, not ${String(o.ingestWorkers)}`);
    }
  }

  static async create(o: MediaEngineOptions): Promise<MediaEngine> {
    const engine = new MediaEngine(o);
    if (engine.#ingestWorkers > 0) {
      engine.#ingest = await IngestWorkerPool.start({ workers: engine.#ingestWorkers, logger: engine.#log });
    }
    try {
      await engine.#start();
    } catch (err) {
      await engine.#ingest?.close();
      throw err;
    }
    return engine;
  }

  /** The ingest worker threads (null when streams are ingested in the main thread, ingestWorkers 0). */
  get ingestWorkers(): IngestWorkerPool | null {
    return this.#ingest;
  }

  /** Actual HTTP-FLV/WS-FLV/HLS port (resolved when 0 was asked), null when disabled. */
  get httpPort(): number | null {
    return nmsHost.httpPort;
  }

  get rtmpPort(): number | null {
    return nmsHost.rtmpPort;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  async #start(): Promise<void> {
    await nmsHost.acquire({
      bindIp: this.#o.bindIp,
      httpPort: this.#o.httpPort,
      rtmpPort: this.#o.rtmpPort,
      dataDir: this.#o.dataDir,
      playSecret: this.#o.playSecret,
      logger: this.#log,
    });
    nmsHost.on('play', this.#onPlay);
    nmsHost.on('donePlay', this.#onDonePlay);
    this.#removeHook = nmsHost.addHttpHook(
      createHlsHttpHook(APP, (id) => {
        const s = this.#streams.get(id);
        if (!s) return undefined;
        return {
          dir: this.#hlsDir(id),
          playlist: () => s.hls.playlist,
          pendingSegment: (name) => s.hls.pendingSegment(name),
          touch: (c) => s.viewerCounter.touchHls(c),
          watching: (c) => s.viewerCounter.watchingHls(c),
        };
      }, this.#o.playSecret),
    );
    this.#timer = setInterval(() => {
      const now = Date.now();
      for (const s of this.#streams.values()) s.tick(now);
    }, TICK_MS);
    this.#timer.unref();
  }

  #hlsDir(streamId: string): string {
    return join(this.#o.hlsDir, streamId);
  }

  #streamOf(e: PlayerEvent): MediaStream | undefined {
    const prefix = `/${APP}/`;
    return e.streamPath.startsWith(prefix) ? this.#streams.get(e.streamPath.slice(prefix.length)) : undefined;
  }

  readonly #onPlay = (e: PlayerEvent): void => {
    this.#streamOf(e)?.viewerCounter.addPlayer(e.sessionId, e.protocol);
  };

  readonly #onDonePlay = (e: PlayerEvent): void => {
    this.#streamOf(e)?.viewerCounter.removePlayer(e.sessionId);
  };

  stream(streamId: string): MediaStream | undefined {
    return this.#streams.get(streamId);
  }

  streams(): MediaStream[] {
    return [...this.#streams.values()];
  }

  /** Opens a receive port (from the range unless `port` is given) and starts publishing `rtp/<streamId>`. */
  async openStream(o: OpenStreamOptions): Promise<MediaStream> {
    if (this.#closed) throw new InvalidStateError('media engine is closed');
    if (!STREAM_ID.test(o.streamId)) throw new TypeError(`streamId ${JSON.stringify(o.streamId)} must be 1-64 of [A-Za-z0-9_-]`);
    if (o.transport !== 'udp' && o.transport !== 'tcp-passive' && o.transport !== 'tcp-active') {
      throw new TypeError(`transport ${String(o.transport)} is not udp, tcp-passive or tcp-active`);
    }
    if (this.#streams.has(o.streamId) || this.#opening.has(o.streamId)) {
      throw new InvalidStateError(`stream ${o.streamId} is already open`);
    }
    this.#opening.add(o.streamId);
    try {
      const ingestOptions = {
        transport: o.transport,
        bindIp: this.#o.bindIp,
        reorderWindow: this.#o.reorderWindow,
        expectedSsrc: o.expectedSsrc,
        udpReceive: this.#udpReceive,
      };
      const open = (port: number): Promise<StreamIngest> =>
        this.#ingest
          ? this.#ingest.open({ ...ingestOptions, port, streamId: o.streamId })
          : LocalStreamIngest.open({ ...ingestOptions, port, logger: this.#log.child({ streamId: o.streamId }) });
      const ingest = o.port !== undefined ? await this.#pool.acquireExact(o.port, open) : (await this.#pool.acquire(open)).value;
      const poolPort = o.port ?? ingest.port;
      let publisher;
      try {
        publisher = nmsHost.publish(`/${APP}/${o.streamId}`);
      } catch (err) {
        await ingest.close();
        this.#pool.release(poolPort);
        throw err;
      }
      const stream = new MediaStream({
        streamId: o.streamId,
        transport: o.transport,
        ingest,
        publisher,
        hlsDir: this.#hlsDir(o.streamId),
        hls: this.#o.hls,
        noViewerCloseS: this.#o.noViewerCloseS,
        firstPacketTimeoutS: this.#o.firstPacketTimeoutS,
        idleTimeoutS: this.#o.idleTimeoutS,
        logger: this.#log,
        onClosed: (s, reason) => {
          if (this.#streams.get(s.streamId) === s) this.#streams.delete(s.streamId);
          this.#pool.release(poolPort);
          this.safeEmit('streamClose', { streamId: s.streamId, reason });
        },
      });
      stream.on('viewers', (viewers) => this.safeEmit('viewers', { streamId: o.streamId, viewers }));
      stream.on('close', ({ reason }) => this.#log.debug({ streamId: o.streamId, reason }, 'stream close event'));
      this.#streams.set(o.streamId, stream);
      // players may have connected before the stream existed (node-media-server lets them wait)
      for (const p of nmsHost.players(`/${APP}/${o.streamId}`)) stream.viewerCounter.addPlayer(p.sessionId, p.protocol);
      return stream;
    } finally {
      this.#opening.delete(o.streamId);
    }
  }

  /** Closes every stream and releases node-media-server (stopped with the last engine of the process). */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = (async () => {
      if (this.#timer) clearInterval(this.#timer);
      await Promise.allSettled([...this.#streams.values()].map((s) => s.close('engine closed')));
      await this.#ingest?.close();
      this.#removeHook();
      nmsHost.off('play', this.#onPlay);
      nmsHost.off('donePlay', this.#onDonePlay);
      await nmsHost.release();
    })();
    return this.#closing;
  }
}

/** Ingest worker threads when none are configured: see MediaEngineOptions.ingestWorkers. */
/**
 * One core is left to the main thread (FLV, HLS) and the rest of the process: on 2 cores one
 * ingest worker carried 500 streams in real time where two dropped 15 % of the frames, the extra
 * thread only adding contention (bench/media-streams.ts, docs/benchmarks.md).
 */
export function defaultIngestWorkers(): number {
  return Math.max(1, Math.min(2, availableParallelism() - 1));
}

export function createMediaEngine(opts: MediaEngineOptions): Promise<MediaEngine> {
  return MediaEngine.create(opts);
}
