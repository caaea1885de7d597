import type { Logger } from 'pino';
import { InvalidStateError, TypedEmitter } from '@gb28181/common';
import type { AccessUnit } from './access-unit.ts';
import type { IngestEvent, IngestRequest } from './ingest-worker-protocol.ts';
import type { RtpTransport } from './rtp-receiver.ts';
import type { StreamIngest, StreamIngestEvents, StreamIngestStats } from './stream-ingest.ts';

/** Distributes Omit over the request union (a plain Omit would merge the variants). */
export type IngestCommand = IngestRequest extends infer R ? (R extends IngestRequest ? Omit<R, 'id'> : never) : never;

/** How a WorkerStreamIngest reaches its worker; IngestWorkerPool provides it. */
export interface IngestWorkerLink {
  request(cmd: IngestCommand): Promise<{ port?: number; cpuMs?: number }>;
  /** the stream is closed: the pool stops routing to it */
  forget(stream: number): void;
}

/**
 * Main-thread stand-in for a stream whose ingest runs in a worker: requests go to the worker,
 * access units, events and stats come back in the pool's batches.
 */
export class WorkerStreamIngest extends TypedEmitter<StreamIngestEvents> implements StreamIngest {
  readonly transport: RtpTransport;
  readonly port: number;
  /** the pool's key for this stream in worker messages */
  readonly key: number;
  readonly #link: IngestWorkerLink;
  #stats: StreamIngestStats = { packets: 0, bytes: 0, lost: 0, frames: 0, dropped: 0, droppedFrames: 0 };
  #failed: string | null = null;
  #closing: Promise<void> | null = null;

  constructor(o: { key: number; transport: RtpTransport; port: number; link: IngestWorkerLink; logger: Logger }) {
    super();
    this.key = o.key;
    this.transport = o.transport;
    this.port = o.port;
    this.#link = o.link;
    this.emitterLogger = o.logger;
  }

  stats(): StreamIngestStats {
    return { ...this.#stats };
  }

  async connect(host: string, port: number): Promise<void> {
    if (this.transport !== 'tcp-active') throw new TypeError('connect() is for tcp-active receivers');
    if (this.#closing || this.#failed) throw new InvalidStateError('receiver is closed');
    await this.#link.request({ op: 'connect', stream: this.key, host, port });
  }

  async flush(): Promise<void> {
    if (this.#closing || this.#failed) return;
    await this.#link.request({ op: 'flush', stream: this.key });
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      try {
        if (!this.#failed) await this.#link.request({ op: 'close', stream: this.key });
      } catch {
        // the worker died meanwhile: its sockets went with it
      } finally {
        this.#link.forget(this.key);
      }
    })();
    return this.#closing;
  }

  // --- called by the pool as worker messages arrive ---

  updateStats(s: Omit<StreamIngestStats, 'source' | 'videoCodec' | 'audioCodec'>): void {
    Object.assign(this.#stats, s);
  }

  applyEvent(e: IngestEvent): void {
    if (e.type === 'bound') {
      this.#stats.source = `${e.host}:${e.port}`;
      this.safeEmit('bound', { host: e.host, port: e.port });
    } else if (e.type === 'disconnected') {
      this.safeEmit('disconnected', { reason: e.reason });
    } else {
      this.#stats.videoCodec = e.videoCodec;
      this.#stats.audioCodec = e.audioCodec;
    }
  }

  deliver(au: AccessUnit): void {
    if (!this.#closing) this.safeEmit('accessUnit', au);
  }

  /** The worker is gone: nothing more will arrive. */
  workerFailed(reason: string): void {
    if (this.#failed || this.#closing) return;
    this.#failed = reason;
    this.safeEmit('failed', { reason });
  }
}
