import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import pino, { type Logger } from 'pino';
import { InvalidStateError, startWorker } from '@gb28181/common';
import { forEachStats, type IngestRecycle, type IngestReply, type IngestWorkerData } from './ingest-worker-protocol.ts';
import type { LocalStreamIngestOptions } from './local-stream-ingest.ts';
import type { StreamIngest } from './stream-ingest.ts';
import { forEachBlockUnit } from './unit-blocks.ts';
import { WorkerStreamIngest, type IngestCommand } from './worker-stream-ingest.ts';

export interface IngestWorkerPoolOptions {
  /** number of worker threads, >= 1 */
  workers: number;
  logger?: Logger;
  /** the worker's entry module (default ingest-worker.ts next to this file) */
  workerUrl?: URL;
  /**
   * Bytes of access-unit blocks (unit-blocks.ts) a worker may have posted that the main thread has
   * not handed back yet; beyond it the worker drops frames (each stream resumes at its next key
   * frame) instead of growing memory without bound. Default 320 MB: 2.5 s of 500 streams at
   * 2 Mbit/s, for the main thread's hiccups: when 500 streams start at once, code not yet optimised
   * keeps it busy for ~3 s and single tasks ran up to 3.5 s (measured); 192 MB dropped frames there.
   * Only what is in flight is allocated, and at most 32 MB is kept afterwards.
   */
  maxInFlightBytes?: number;
  /**
   * A worker that leaves a request unanswered this long is taken as hung: it is terminated (its
   * streams fail) and replaced. Default 10 s; starting a worker may take 30 s (tsx compiles it).
   */
  requestTimeoutMs?: number;
}

export interface IngestWorkerInfo {
  index: number;
  threadId: number;
  streams: number;
}

const RESPAWN_DELAY_MS = 1000;
const DEFAULT_MAX_IN_FLIGHT = 320 * 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 30_000;
const DEFAULT_WORKER_URL = new URL('./ingest-worker.ts', import.meta.url);

/** A worker's error as the caller would have got it in-process: same class for the typed ones, same code. */
function rebuildError(m: Extract<IngestReply, { op: 'failed' }>): Error {
  const err = m.name === 'InvalidStateError' ? new InvalidStateError(m.message) : m.name === 'TypeError' ? new TypeError(m.message) : new Error(m.message);
  return m.code ? Object.assign(err, { code: m.code }) : err;
}

/** One worker thread and the streams it carries. */
class IngestWorker {
  readonly worker: Worker;
  readonly streams = new Map<number, WorkerStreamIngest>();
  /** opens sent but not answered yet: they count towards the load when placing the next stream */
  opening = 0;
  readonly ready: Promise<void>;
  readonly #pending = new Map<number, { resolve: (r: { port?: number; cpuMs?: number }) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  readonly #requestTimeoutMs: number;
  readonly #log: Logger;
  #nextId = 1;
  #exited: string | null = null;
  #wasReady = false;

  constructor(
    readonly index: number,
    url: URL,
    maxInFlightBytes: number,
    requestTimeoutMs: number,
    log: Logger,
    onExit: (w: IngestWorker, reason: string, expected: boolean) => void,
  ) {
    this.#log = log;
    this.#requestTimeoutMs = requestTimeoutMs;
    const data: IngestWorkerData = { index, logLevel: log.level, maxInFlightBytes };
    this.worker = startWorker(url, data);
    let markReady: () => void = () => {};
    let failReady: (e: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.ready.catch(() => {}); // observed by open(); a dead spare worker must not be an unhandled rejection
    const startTimeoutMs = Math.max(START_TIMEOUT_MS, requestTimeoutMs);
    const startTimer = setTimeout(() => {
      if (!this.#wasReady) this.#hung(`ingest worker ${index} did not start within ${startTimeoutMs} ms`);
    }, startTimeoutMs).unref();
    let lastError: Error | undefined;
    this.worker.on('message', (m: IngestReply) => {
      if (m.op === 'ready') {
        clearTimeout(startTimer);
        this.#wasReady = true;
        markReady();
      }
      else this.#onReply(m);
    });
    this.worker.on('error', (err) => {
      lastError = err;
      this.#log.error({ err, worker: index }, 'ingest worker failed');
    });
    this.worker.on('exit', (code) => {
      clearTimeout(startTimer);
      const expected = this.#exited !== null;
      const reason = this.#exited ?? `ingest worker ${index} exited (code ${code}${lastError ? `: ${lastError.message}` : ''})`;
      this.#exited = reason;
      const err = new InvalidStateError(reason);
      failReady(err);
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(err);
      }
      this.#pending.clear();
      for (const s of this.streams.values()) s.workerFailed(reason);
      this.streams.clear();
      onExit(this, reason, expected);
    });
  }

  get alive(): boolean {
    return this.#exited === null;
  }

  /** Whether the worker got as far as taking requests (one that dies before is not restarted in a loop). */
  get wasReady(): boolean {
    return this.#wasReady;
  }

  request(cmd: IngestCommand): Promise<{ port?: number; cpuMs?: number }> {
    if (this.#exited !== null) return Promise.reject(new InvalidStateError(this.#exited));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#hung(`ingest worker ${this.index} did not answer ${cmd.op} within ${this.#requestTimeoutMs} ms`), this.#requestTimeoutMs);
      timer.unref();
      this.#pending.set(id, { resolve, reject, timer });
      this.worker.postMessage({ ...cmd, id });
    });
  }

  /** A stuck thread (endless loop, deadlock) cannot be reasoned with: end it, its streams fail. */
  #hung(reason: string): void {
    if (this.#exited !== null) return;
    this.#log.error({ worker: this.index, reason }, 'ingest worker hung; terminating it');
    void this.terminate(reason);
  }

  /** Ends the thread; `reason` becomes its streams' failure reason. */
  terminate(reason: string): Promise<void> {
    if (this.#exited === null) this.#exited = reason;
    return this.worker.terminate().then(() => undefined);
  }

  #onReply(m: Exclude<IngestReply, { op: 'ready' }>): void {
    if (m.op === 'batch') {
      forEachStats(m, (stream, st) => this.streams.get(stream)?.updateStats(st));
      for (const e of m.events) this.streams.get(e.stream)?.applyEvent(e);
      if (m.blocks.length === 0) return;
      for (const block of m.blocks) forEachBlockUnit(block, (stream, au) => this.streams.get(stream)?.deliver(au));
      // delivery is synchronous and consumers copy what they keep (AccessUnit.data): the blocks
      // can go back to be filled again
      if (this.#exited === null) {
        const buffers = m.blocks.map((b) => b.buffer);
        this.worker.postMessage({ op: 'recycle', buffers } satisfies IngestRecycle, buffers);
      }
      return;
    }
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.op === 'done') p.resolve({ port: m.port, cpuMs: m.cpuMs });
    else p.reject(rebuildError(m));
  }
}

/**
 * K ingest worker threads. Each stream's socket, RTP parse, reorder and PS demux run in the least
 * loaded worker; its access units come back to the main thread. A worker that dies ends its
 * streams ('failed', the stream closes with reason 'ingest-failed') and is replaced at once.
 */
export class IngestWorkerPool {
  readonly #slots: IngestWorker[] = [];
  readonly #log: Logger;
  readonly #url: URL;
  readonly #maxInFlight: number;
  readonly #requestTimeoutMs: number;
  #nextStream = 1;
  #closed = false;

  private constructor(o: IngestWorkerPoolOptions) {
    this.#log = o.logger ?? pino({ level: 'silent' });
    this.#url = o.workerUrl ?? DEFAULT_WORKER_URL;
    this.#maxInFlight = o.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT;
    this.#requestTimeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** Starts the workers and waits until each is ready (a worker that cannot start rejects here). */
  static async start(o: IngestWorkerPoolOptions): Promise<IngestWorkerPool> {
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new TypeError(`ingest workers must be a positive integer, not ${o.workers}`);
    const pool = new IngestWorkerPool(o);
    for (let i = 0; i < o.workers; i++) pool.#slots.push(pool.#spawn(i));
    try {
      await Promise.all(pool.#slots.map((w) => w.ready));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.#slots.length;
  }

  info(): IngestWorkerInfo[] {
    return this.#slots.map((w) => ({ index: w.index, threadId: w.worker.threadId, streams: w.streams.size }));
  }

  /**
   * Load of each worker: CPU time of its thread (ms since it started; NaN where /proc/thread-self
   * is missing) and its event-loop utilisation (cumulative, diff two readings with performance.eventLoopUtilization).
   * Every stream's stats() is up to date when this resolves.
   */
  async usage(): Promise<{ index: number; cpuMs: number; elu: EventLoopUtilization }[]> {
    return Promise.all(
      this.#slots.map(async (w) => ({
        index: w.index,
        cpuMs: (await w.request({ op: 'usage' }).catch(() => ({ cpuMs: Number.NaN }))).cpuMs ?? Number.NaN,
        elu: w.worker.performance.eventLoopUtilization(),
      })),
    );
  }

  /** Opens a stream's receive port in the least loaded worker. Rejects like RtpReceiver.open (EADDRINUSE has its code). */
  async open(o: Omit<LocalStreamIngestOptions, 'logger' | 'transient'> & { streamId: string }): Promise<StreamIngest> {
    if (this.#closed) throw new InvalidStateError('ingest worker pool is closed');
    let w: IngestWorker | undefined;
    const load = (x: IngestWorker): number => x.streams.size + x.opening;
    for (const s of this.#slots) if (s.alive && (!w || load(s) < load(w))) w = s;
    if (!w) throw new InvalidStateError('no ingest worker is running');
    const key = this.#nextStream++;
    w.opening++;
    let port: number | undefined;
    try {
      await w.ready;
      ({ port } = await w.request({
      op: 'open',
      stream: key,
      name: o.streamId,
      transport: o.transport,
      bindIp: o.bindIp,
      port: o.port,
      reorderWindow: o.reorderWindow,
      expectedSsrc: o.expectedSsrc,
      udpReceive: o.udpReceive,
      }));
    } finally {
      w.opening--;
    }
    const worker = w;
    const ingest = new WorkerStreamIngest({
      key,
      transport: o.transport,
      port: port ?? o.port,
      logger: this.#log,
      link: { request: (cmd) => worker.request(cmd), forget: (stream) => worker.streams.delete(stream) },
    });
    if (!w.alive) {
      ingest.workerFailed(`ingest worker ${w.index} exited`);
    } else {
      w.streams.set(key, ingest);
    }
    return ingest;
  }

  /** Ends worker `index` (its streams fail with `reason`) and starts a fresh one in its place. */
  async restartWorker(index: number, reason = `ingest worker ${index} restarted`): Promise<void> {
    const w = this.#slots[index];
    if (!w) throw new TypeError(`no ingest worker ${index}`);
    await w.terminate(reason);
    await this.#slots[index]!.ready.catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#slots.map((w) => w.terminate('ingest worker pool closed')));
  }

  #spawn(index: number): IngestWorker {
    return new IngestWorker(index, this.#url, this.#maxInFlight, this.#requestTimeoutMs, this.#log, (dead, reason, expected) => {
      if (this.#closed || this.#slots[index] !== dead) return;
      if (!expected) this.#log.error({ worker: index, reason }, 'ingest worker died; its streams end, a new worker takes new streams');
      if (dead.wasReady) {
        this.#slots[index] = this.#spawn(index);
        return;
      }
      // died while starting: try again later rather than in a tight loop
      setTimeout(() => {
        if (!this.#closed && this.#slots[index] === dead) this.#slots[index] = this.#spawn(index);
      }, RESPAWN_DELAY_MS).unref();
    });
  }
}
