import { createRequire } from 'node:module';
import net from 'node:net';
import type http from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PortInUseError, InvalidStateError } from './errors.ts';
import { TypedEmitter } from '@gb28181/common';
import type { FlvTag } from './flv-muxer.ts';

/*
 * node-media-server 4.4.3 keeps its state in a module-level context, so it exists once per process.
 * This host embeds it as a ref-counted singleton. It reaches into the pinned version's src/ internals
 * (logger, BroadcastServer and its caches, BaseSession, Flv, Rtmp) to publish FLV tags in-process
 * without its per-frame copies, and to hook its HTTP server.
 */

const require = createRequire(import.meta.url);

interface NmsLogger {
  level: string;
  log(message: string, level?: string): void;
}
interface NmsSession {
  id: string;
  ip: string;
  protocol: string;
  isPublisher: boolean;
  streamApp: string;
  streamName: string;
  streamPath: string;
  close(): void;
}
interface NmsAvPacket {
  codec_type: number;
  /** 0 audio config, 1 audio frame, 2 video config, 3 key frame, 4 inter frame, 5 metadata */
  flags: number;
  dts: number;
  size: number;
  data: Buffer;
}
/** What node-media-server's play path reads of a GOP cache: its own is a Set of messages. */
interface NmsGopCache {
  readonly size: number;
  add(message: Buffer): unknown;
  clear(): void;
  forEach(fn: (message: Buffer) => void): void;
}
interface NmsBroadcast {
  publisher: NmsSession | null;
  subscribers: Map<string, NmsSession & { sendBuffer(b: Buffer): void }>;
  flvGopCache: Set<Buffer> | null;
  rtmpGopCache: NmsGopCache | null;
  _dtsOffset: Record<number, number | undefined>;
  _lastDts: Record<number, number | undefined>;
  postPublish(session: NmsSession): string | null;
  donePublish(session: NmsSession): void;
  _finishPublish(): void;
  broadcastMessage(packet: NmsAvPacket): void;
}
interface NmsContext {
  broadcasts: Map<string, NmsBroadcast>;
  sessions: Map<string, NmsSession>;
  eventEmitter: import('node:events').EventEmitter;
}
interface NmsInstance {
  httpServer: { httpServer?: http.Server; wsServer?: import('node:events').EventEmitter };
  rtmpServer: { tcpServer?: net.Server };
  run(): Promise<void>;
  stop(): Promise<void>;
}
type NmsConstructor = new (config: Record<string, unknown>) => NmsInstance;
type BroadcastConstructor = new (streamPath: string) => NmsBroadcast;
type BaseSessionConstructor = new () => NmsSession;
interface FlvProtocol {
  parserTag(type: number, time: number, size: number, data: Buffer): NmsAvPacket;
  createMessage(packet: NmsAvPacket): Buffer;
}
interface RtmpProtocol {
  createMessage(packet: NmsAvPacket): Buffer;
}

const nmsLogger = require('node-media-server/src/core/logger.js') as NmsLogger;
const NodeMediaServer = require('node-media-server') as NmsConstructor;
const Context = require('node-media-server/src/core/context.js') as NmsContext;
const BroadcastServer = require('node-media-server/src/server/broadcast_server.js') as BroadcastConstructor;
const BaseSession = require('node-media-server/src/session/base_session.js') as BaseSessionConstructor;
const Flv = require('node-media-server/src/protocol/flv.js') as FlvProtocol;
const Rtmp = require('node-media-server/src/protocol/rtmp.js') as RtmpProtocol;
/** node-media-server drops a GOP cache that grows past this many messages */
const GOP_CACHE_LIMIT = 4096;

/**
 * RTMP chunks of an FLV message (11-byte tag header + body + PreviousTagSize), made once per
 * message: many RTMP players, or a GOP cache replayed to several, share them.
 */
const rtmpOfFlv = new WeakMap<Buffer, Buffer>();
function rtmpMessageOf(flvMessage: Buffer): Buffer {
  let rtmp = rtmpOfFlv.get(flvMessage);
  if (!rtmp) {
    const size = (flvMessage[1]! << 16) | (flvMessage[2]! << 8) | flvMessage[3]!;
    const time = ((flvMessage[4]! << 16) | (flvMessage[5]! << 8) | flvMessage[6]! | (flvMessage[7]! << 24)) >>> 0;
    rtmp = Rtmp.createMessage(Flv.parserTag(flvMessage[0]!, time, size, flvMessage.subarray(11, 11 + size)));
    rtmpOfFlv.set(flvMessage, rtmp);
  }
  return rtmp;
}

const FOURCCS = ['av01', 'vp09', 'hvc1'].map((f) => Buffer.from(f).readUInt32BE(0));

/**
 * node-media-server's packet flags (Flv.parserTag) of an audio or video frame tag: 1 audio frame,
 * 3 key frame, 4 inter frame; -1 for everything else (sequence headers, metadata, unknown kinds).
 * Read from the tag bytes because parserTag allocates a packet and a zero-length Buffer per tag.
 */
export function nmsFrameFlags(type: number, data: Buffer): number {
  if (data.length < 2) return -1;
  const b0 = data[0]!;
  if (type === 8) {
    const format = b0 >> 4;
    // ExHeader (9) sequence start, or AAC (10) sequence header
    if ((format === 9 && (b0 & 0x0f) === 0) || (format === 10 && data[1] === 0)) return -1;
    return 1;
  }
  if (type !== 9) return -1;
  const key = ((b0 >> 4) & 0x07) === 1;
  if (b0 & 0x80) {
    // enhanced FLV: CodedFrames (1) or CodedFramesX (3) of a FourCC it knows
    const packetType = b0 & 0x0f;
    if ((packetType !== 1 && packetType !== 3) || data.length < 5 || !FOURCCS.includes(data.readUInt32BE(1))) return -1;
    return key ? 3 : 4;
  }
  if ((b0 & 0x0f) !== 7) return 4;
  return data[1] === 0 ? -1 : key ? 3 : 4;
}

/**
 * Stands in for node-media-server's RTMP GOP cache: the FLV GOP cache seen as RTMP messages, made
 * only when an RTMP player joins. node-media-server builds both forms of every frame as it arrives
 * (two zero-filled copies per frame) although most streams have no RTMP player.
 */
class RtmpGopCacheView implements NmsGopCache {
  constructor(readonly flv: Set<Buffer>) {}
  get size(): number {
    return this.flv.size;
  }
  add(): void {
    // the FLV cache holds the frame already
  }
  clear(): void {
    // cleared with the FLV cache
  }
  forEach(fn: (message: Buffer) => void): void {
    for (const m of this.flv) fn(rtmpMessageOf(m));
  }
}

export interface NmsHostOptions {
  bindIp: string;
  /** 0 = an ephemeral port, null = no HTTP-FLV/WS-FLV listener */
  httpPort: number | null;
  /** 0 = an ephemeral port, null = no RTMP listener */
  rtmpPort: number | null;
  dataDir: string;
  /** '' = plays are open; otherwise node-media-server's play auth with this secret */
  playSecret?: string;
  logger: Logger;
}

export interface PlayerEvent {
  streamPath: string;
  sessionId: string;
  protocol: 'rtmp' | 'flv';
}

export type NmsHostEvents = {
  play: [PlayerEvent];
  donePlay: [PlayerEvent];
};

/** Answers an HTTP request in front of node-media-server; returns false to pass it on. */
export type HttpHook = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

/** Publishes FLV tags in-process as one stream path of node-media-server. */
export interface NmsPublisher {
  readonly streamPath: string;
  /** true when the tag was a key frame that started a new GOP cache (the previous GOP's tags left it) */
  sendTag(tag: FlvTag): boolean;
  /** players (HTTP-FLV, WS-FLV, RTMP) of the path now */
  readonly players: number;
  /** Ends the publish at once (no 30 s grace) and closes every player of the path. */
  end(): void;
}

/** Checks that nobody listens on `port` (TCP) so node-media-server's process.exit on EADDRINUSE cannot trigger. */
export function assertTcpPortFree(setting: string, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', () => reject(new PortInUseError(setting, port)));
    srv.listen({ port, host, exclusive: true }, () => {
      const got = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(got));
    });
  });
}

function listening(server: net.Server, setting: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('listening', () => resolve());
    server.once('error', () => reject(new PortInUseError(setting, port)));
  });
}

function stripExitOnError(server: import('node:events').EventEmitter | undefined, logger: Logger, name: string): void {
  if (!server) return;
  // node-media-server's listeners call process.exit(1); ours report and let the caller decide
  server.removeAllListeners('error');
  server.on('error', (err: Error) => logger.error({ err }, `${name} error`));
}

class InProcessPublisher implements NmsPublisher {
  readonly #session: NmsSession;
  readonly #broadcast: NmsBroadcast;
  #ended = false;

  constructor(
    readonly streamPath: string,
    onEnd: () => void,
  ) {
    this.#onEnd = onEnd;
    const session = new BaseSession();
    const [, app = '', name = ''] = streamPath.split('/');
    session.protocol = 'flv';
    session.isPublisher = true;
    session.streamApp = app;
    session.streamName = name;
    session.streamPath = streamPath;
    this.#session = session;
    const broadcast = Context.broadcasts.get(streamPath) ?? new BroadcastServer(streamPath);
    Context.broadcasts.set(streamPath, broadcast);
    if (broadcast.publisher) {
      // a stale publish of the same path (within its grace window) must not block ours
      broadcast._finishPublish();
    }
    const err = broadcast.postPublish(session);
    if (err) throw new InvalidStateError(err);
    Context.sessions.set(session.id, session);
    this.#broadcast = broadcast;
  }

  readonly #onEnd: () => void;

  /**
   * Same effect as node-media-server's broadcastMessage() for audio and video frames, without its
   * copies: the FLV message is the muxer's own (FlvTag.message), RTMP chunks are made only for RTMP
   * players (and for the GOP cache when one joins). Sequence headers, metadata and resumed
   * timelines (rare) go through broadcastMessage() itself.
   */
  sendTag(tag: FlvTag): boolean {
    if (this.#ended) return false;
    const b = this.#broadcast;
    const flags = nmsFrameFlags(tag.type, tag.data);
    if (flags === -1 || (b._dtsOffset[tag.type] ?? 0) > 0) {
      b.broadcastMessage(Flv.parserTag(tag.type, tag.timestamp, tag.data.length, tag.data));
      return false;
    }
    b._lastDts[tag.type] = tag.timestamp;
    const flvMessage = tag.message ?? Flv.createMessage(Flv.parserTag(tag.type, tag.timestamp, tag.data.length, tag.data));
    if (flags === 3) {
      b.flvGopCache?.clear();
      b.rtmpGopCache?.clear();
      b.flvGopCache = new Set();
    }
    const gop = b.flvGopCache;
    if (gop) {
      gop.add(flvMessage);
      if (gop.size > GOP_CACHE_LIMIT) gop.clear();
      if (!(b.rtmpGopCache instanceof RtmpGopCacheView) || b.rtmpGopCache.flv !== gop) b.rtmpGopCache = new RtmpGopCacheView(gop);
    }
    for (const player of b.subscribers.values()) {
      if (player.protocol === 'flv') player.sendBuffer(flvMessage);
      else if (player.protocol === 'rtmp') player.sendBuffer(rtmpMessageOf(flvMessage));
    }
    return flags === 3;
  }

  get players(): number {
    return this.#broadcast.subscribers.size;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#broadcast.donePublish(this.#session);
    this.#broadcast._finishPublish();
    Context.sessions.delete(this.#session.id);
    for (const player of [...this.#broadcast.subscribers.values()]) {
      try {
        player.close();
      } catch {
        // a player whose socket is already gone
      }
    }
    this.#onEnd();
  }
}

/** The process-wide node-media-server, shared by every media engine of the process. */
export class NmsHost extends TypedEmitter<NmsHostEvents> {
  httpPort: number | null = null;
  rtmpPort: number | null = null;
  readonly #hooks = new Set<HttpHook>();
  readonly #publishers = new Map<string, NmsPublisher>();
  #nms: NmsInstance | null = null;
  #refs = 0;

  /** External players (RTMP, HTTP-FLV, WS-FLV) attached to a stream path, e.g. before it was published. */
  players(streamPath: string): PlayerEvent[] {
    const out: PlayerEvent[] = [];
    for (const s of Context.broadcasts.get(streamPath)?.subscribers.values() ?? []) {
      if (s.ip !== '' && (s.protocol === 'flv' || s.protocol === 'rtmp')) {
        out.push({ streamPath, sessionId: s.id, protocol: s.protocol });
      }
    }
    return out;
  }

  addHttpHook(hook: HttpHook): () => void {
    this.#hooks.add(hook);
    return () => this.#hooks.delete(hook);
  }

  publish(streamPath: string): NmsPublisher {
    if (!this.#nms) throw new InvalidStateError('node-media-server is not running');
    if (this.#publishers.has(streamPath)) throw new InvalidStateError(`${streamPath} is already published`);
    const pub = new InProcessPublisher(streamPath, () => this.#publishers.delete(streamPath));
    this.#publishers.set(streamPath, pub);
    return pub;
  }

  async acquire(opts: NmsHostOptions): Promise<void> {
    if (this.#nms) {
      const clash =
        (opts.httpPort && this.httpPort !== opts.httpPort) || (opts.rtmpPort && this.rtmpPort !== opts.rtmpPort);
      if (clash) {
        throw new InvalidStateError(
          `node-media-server already runs in this process on http ${this.httpPort} / rtmp ${this.rtmpPort}`,
        );
      }
      this.#refs++;
      return;
    }
    this.#refs++;
    try {
      await this.#start(opts);
    } catch (err) {
      this.#refs--;
      throw err;
    }
  }

  async #start(opts: NmsHostOptions): Promise<void> {
    const { logger } = opts;
    const httpPort =
      opts.httpPort === null ? null : await assertTcpPortFree('GB_MEDIA_HTTP_PORT', opts.httpPort, opts.bindIp);
    const rtmpPort =
      opts.rtmpPort === null ? null : await assertTcpPortFree('GB_MEDIA_RTMP_PORT', opts.rtmpPort, opts.bindIp);
    const config: Record<string, unknown> = {
      bind: opts.bindIp,
      store: { path: join(opts.dataDir, 'nms-store') },
      webadmin: { enable: false },
    };
    if (opts.playSecret) config.auth = { play: true, publish: false, secret: opts.playSecret };
    if (httpPort !== null) config.http = { port: httpPort };
    if (rtmpPort !== null) config.rtmp = { port: rtmpPort };
    // its constructor forces debug level and prints with console.log; route it into our logger
    nmsLogger.log = (message: string, level = 'info') => {
      if (level === 'error') logger.warn({ nms: true }, message);
      else logger.debug({ nms: true }, message);
    };
    const nms = new NodeMediaServer(config);
    const httpServer = nms.httpServer.httpServer;
    if (httpServer) {
      const app = httpServer.listeners('request')[0] as (req: http.IncomingMessage, res: http.ServerResponse) => void;
      httpServer.removeAllListeners('request');
      httpServer.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
        for (const hook of this.#hooks) {
          try {
            if (hook(req, res)) return;
          } catch (err) {
            logger.error({ err, url: req.url }, 'media HTTP hook failed');
            if (!res.headersSent) res.writeHead(500).end();
            return;
          }
        }
        app(req, res);
      });
    }
    stripExitOnError(httpServer, logger, 'media HTTP server');
    stripExitOnError(nms.httpServer.wsServer, logger, 'media WebSocket server');
    const onPlay = (s: NmsSession): void => {
      if (s.protocol === 'flv' || s.protocol === 'rtmp') {
        this.safeEmit('play', { streamPath: s.streamPath, sessionId: s.id, protocol: s.protocol });
      }
    };
    const onDonePlay = (s: NmsSession): void => {
      if (s.protocol === 'flv' || s.protocol === 'rtmp') {
        this.safeEmit('donePlay', { streamPath: s.streamPath, sessionId: s.id, protocol: s.protocol });
      }
    };
    Context.eventEmitter.on('postPlay', onPlay);
    Context.eventEmitter.on('donePlay', onDonePlay);
    this.#detach = () => {
      Context.eventEmitter.off('postPlay', onPlay);
      Context.eventEmitter.off('donePlay', onDonePlay);
    };
    const runP = nms.run();
    const rtmpServer = nms.rtmpServer.tcpServer;
    stripExitOnError(rtmpServer, logger, 'RTMP server');
    this.#nms = nms;
    try {
      await Promise.all([
        httpServer && httpPort !== null ? listening(httpServer, 'GB_MEDIA_HTTP_PORT', httpPort) : undefined,
        rtmpServer && rtmpPort !== null ? listening(rtmpServer, 'GB_MEDIA_RTMP_PORT', rtmpPort) : undefined,
        runP,
      ]);
    } catch (err) {
      this.#nms = null;
      await this.#stop(nms);
      throw err;
    }
    // Its JSON store flushes on SIGINT/SIGTERM and then re-raises the signal: the host process would
    // see a second signal and exit before its own graceful shutdown (BYEs to devices) ran.
    const onSignal = (nms as unknown as { store?: { _onSignal?: (...args: unknown[]) => void } }).store?._onSignal;
    if (onSignal) {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
    this.httpPort = httpPort;
    this.rtmpPort = rtmpPort;
  }

  #detach: () => void = () => {};

  async release(): Promise<void> {
    if (this.#refs === 0) return;
    if (--this.#refs > 0) return;
    const nms = this.#nms;
    this.#nms = null;
    for (const pub of [...this.#publishers.values()]) pub.end();
    this.#hooks.clear();
    if (nms) await this.#stop(nms);
    this.httpPort = null;
    this.rtmpPort = null;
  }

  async #stop(nms: NmsInstance): Promise<void> {
    this.#detach();
    const http = nms.httpServer.httpServer;
    const rtmp = nms.rtmpServer.tcpServer;
    const closed = [http, rtmp].map(
      (s) => new Promise<void>((resolve) => (s?.listening ? s.once('close', () => resolve()) : resolve())),
    );
    await nms.stop();
    http?.closeAllConnections();
    await Promise.all(closed);
    // node-media-server's constructor starts a module-level sampler and store; both are per process
    Context.broadcasts.clear();
  }
}

/** The one host of this process. */
export const nmsHost = new NmsHost();
