// Messages between the main thread and an ingest worker (ingest-worker.ts). Access units travel
// in blocks that go back to the worker once handled (unit-blocks.ts): a busy worker posts one
// message per event-loop turn, not one per frame, and allocates nothing in steady state.
import type { AccessUnit, AudioCodec, VideoCodec } from './access-unit.ts';
import type { RtpTransport, UdpReceivePath } from './rtp-receiver.ts';
import type { StreamIngestStats } from './stream-ingest.ts';
import type { UnitBlock, UnitBlockWriter } from './unit-blocks.ts';

export interface IngestWorkerData {
  index: number;
  logLevel: string;
  /** block bytes posted but not yet handed back above which the worker drops frames (see IngestWorkerPoolOptions) */
  maxInFlightBytes: number;
}

/** Main -> worker, no reply: these blocks' units are handled; fill them again. */
export interface IngestRecycle {
  op: 'recycle';
  buffers: ArrayBuffer[];
}

export type IngestRequest =
  | { op: 'open'; id: number; stream: number; name: string; transport: RtpTransport; bindIp: string; port: number; reorderWindow?: number; expectedSsrc?: number; udpReceive?: UdpReceivePath }
  | { op: 'connect'; id: number; stream: number; host: string; port: number }
  | { op: 'flush'; id: number; stream: number }
  | { op: 'close'; id: number; stream: number }
  /** CPU time of the worker thread so far (Linux; answered in `done.cpuMs`, NaN elsewhere), after a batch with every stream's stats */
  | { op: 'usage'; id: number };

export type IngestEvent =
  | { stream: number; type: 'bound'; host: string; port: number }
  | { stream: number; type: 'disconnected'; reason: string }
  | { stream: number; type: 'codecs'; videoCodec?: VideoCodec; audioCodec?: AudioCodec };

export type IngestReply =
  | { op: 'ready' }
  | { op: 'done'; id: number; port?: number; cpuMs?: number }
  | { op: 'failed'; id: number; name: string; message: string; code?: string }
  | {
      op: 'batch';
      /** units in order; each block's buffer is in the transfer list and comes back in an IngestRecycle */
      blocks: UnitBlock[];
      /** STAT_FIELDS numbers per stream with news */
      stats: number[];
      events: IngestEvent[];
    };

/** stream, packets, bytes, lost, frames, dropped, droppedFrames, firstPacketAt, lastPacketAt (0 = none yet) */
const STAT_FIELDS = 9;

/** Worker side: copies units into blocks as they come and collects stats and events until `take()`. */
export class IngestBatchWriter {
  readonly #blocks: UnitBlockWriter;
  #stats = new Map<number, StreamIngestStats>();
  #events: IngestEvent[] = [];

  constructor(blocks: UnitBlockWriter) {
    this.#blocks = blocks;
  }

  get empty(): boolean {
    return !this.#blocks.pending && this.#stats.size === 0 && this.#events.length === 0;
  }

  /** Copies the unit into a block; false when the main thread is too far behind: dropped. */
  unit(stream: number, au: AccessUnit): boolean {
    return this.#blocks.write(stream, au);
  }

  stats(stream: number, s: StreamIngestStats): void {
    this.#stats.set(stream, s);
  }

  event(e: IngestEvent): void {
    this.#events.push(e);
  }

  /** The batch message; its blocks' buffers go in the transfer list. */
  take(): Extract<IngestReply, { op: 'batch' }> {
    const stats: number[] = [];
    for (const [stream, s] of this.#stats) {
      stats.push(stream, s.packets, s.bytes, s.lost, s.frames, s.dropped, s.droppedFrames, s.firstPacketAt ?? 0, s.lastPacketAt ?? 0);
    }
    const message = { op: 'batch' as const, blocks: this.#blocks.take(), stats, events: this.#events };
    this.#stats = new Map();
    this.#events = [];
    return message;
  }
}

type Batch = Extract<IngestReply, { op: 'batch' }>;

/** Main side: the numeric stats of a batch, by stream. */
export function forEachStats(batch: Batch, fn: (stream: number, s: Omit<StreamIngestStats, 'source' | 'videoCodec' | 'audioCodec'>) => void): void {
  const stats = batch.stats;
  for (let i = 0; i + STAT_FIELDS <= stats.length; i += STAT_FIELDS) {
    fn(stats[i]!, {
      packets: stats[i + 1]!,
      bytes: stats[i + 2]!,
      lost: stats[i + 3]!,
      frames: stats[i + 4]!,
      dropped: stats[i + 5]!,
      droppedFrames: stats[i + 6]!,
      firstPacketAt: stats[i + 7] || undefined,
      lastPacketAt: stats[i + 8] || undefined,
    });
  }
}
