// Messages between the main thread and an ingest worker (ingest-worker.ts). Access units travel
// in batches, one transferred ArrayBuffer holding the per-unit fields, stats and every unit's
// bytes, so a busy worker posts one message per event-loop turn, not one per frame.
import type { AccessUnit, AudioCodec, VideoCodec } from './access-unit.ts';
import type { RtpTransport, UdpReceivePath } from './rtp-receiver.ts';
import type { StreamIngestStats } from './stream-ingest.ts';

export interface IngestWorkerData {
  index: number;
  logLevel: string;
  /** unit bytes posted but not yet acknowledged above which the worker drops frames (see IngestWorkerPoolOptions) */
  maxInFlightBytes: number;
}

/** Main -> worker, no reply: the main thread has handled this many more unit bytes. */
export interface IngestAck {
  op: 'ack';
  bytes: number;
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
      /**
       * One transferred buffer: `units` x UNIT_FIELDS then `stats` x STAT_FIELDS float64s, then the
       * bytes of every unit back to back (`bytes` of them). One buffer, not three: each ArrayBuffer
       * costs a few µs to make and for the GC to track, and a busy worker posts thousands a second.
       */
      buffer: ArrayBuffer;
      units: number;
      stats: number;
      bytes: number;
      events: IngestEvent[];
    };

const CODECS = ['h264', 'h265', 'aac', 'g711a', 'g711u'] as const;
const CODEC_INDEX: Record<AccessUnit['codec'], number> = { h264: 0, h265: 1, aac: 2, g711a: 3, g711u: 4 };

/** stream, codec, flags (1 video, 2 key), pts, dts, offset, length */
const UNIT_FIELDS = 7;
/** stream, packets, bytes, lost, frames, dropped, firstPacketAt, lastPacketAt (0 = none yet) */
const STAT_FIELDS = 9;

/** Worker side: collects units, stats and events until `take()`. */
export class IngestBatchWriter {
  #units: { stream: number; au: AccessUnit }[] = [];
  #bytes = 0;
  #stats = new Map<number, StreamIngestStats>();
  #events: IngestEvent[] = [];

  get empty(): boolean {
    return this.#units.length === 0 && this.#stats.size === 0 && this.#events.length === 0;
  }

  /** Unit bytes collected and not yet taken. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether units or events are waiting (stats alone may wait for the periodic flush). */
  get urgent(): boolean {
    return this.#units.length > 0 || this.#events.length > 0;
  }

  unit(stream: number, au: AccessUnit): void {
    this.#units.push({ stream, au });
    this.#bytes += au.data.length;
  }

  stats(stream: number, s: StreamIngestStats): void {
    this.#stats.set(stream, s);
  }

  event(e: IngestEvent): void {
    this.#events.push(e);
  }

  /** The batch message and its transfer list; the unit bytes are copied into the batch's own buffer. */
  take(): { message: Extract<IngestReply, { op: 'batch' }>; transfer: ArrayBuffer[] } {
    const numbers = this.#units.length * UNIT_FIELDS + this.#stats.size * STAT_FIELDS;
    const dataStart = numbers * 8;
    // uninitialised (every byte is written below) and never from Buffer's shared pool: safe to transfer
    const buffer = Buffer.allocUnsafeSlow(dataStart + this.#bytes).buffer as ArrayBuffer;
    const f = new Float64Array(buffer, 0, numbers);
    const bytes = new Uint8Array(buffer, dataStart);
    let offset = 0;
    let i = 0;
    for (const { stream, au } of this.#units) {
      bytes.set(au.data, offset);
      f[i++] = stream;
      f[i++] = CODEC_INDEX[au.codec];
      f[i++] = (au.kind === 'video' ? 1 : 0) | (au.key ? 2 : 0);
      f[i++] = au.pts;
      f[i++] = au.dts;
      f[i++] = dataStart + offset;
      f[i++] = au.data.length;
      offset += au.data.length;
    }
    for (const [stream, s] of this.#stats) {
      f[i++] = stream;
      f[i++] = s.packets;
      f[i++] = s.bytes;
      f[i++] = s.lost;
      f[i++] = s.frames;
      f[i++] = s.dropped;
      f[i++] = s.droppedFrames;
      f[i++] = s.firstPacketAt ?? 0;
      f[i++] = s.lastPacketAt ?? 0;
    }
    const message = { op: 'batch' as const, buffer, units: this.#units.length, stats: this.#stats.size, bytes: this.#bytes, events: this.#events };
    this.#units = [];
    this.#bytes = 0;
    this.#stats = new Map();
    this.#events = [];
    return { message, transfer: [buffer] };
  }
}

type Batch = Extract<IngestReply, { op: 'batch' }>;

/** Main side: walks a batch's units; each unit's data is a view of the batch's one buffer. */
export function forEachUnit(batch: Batch, fn: (stream: number, au: AccessUnit) => void): void {
  const f = new Float64Array(batch.buffer, 0, batch.units * UNIT_FIELDS);
  for (let u = 0; u < f.length; u += UNIT_FIELDS) {
    const codec = CODECS[f[u + 1]!];
    const flags = f[u + 2]!;
    if (codec === undefined) continue;
    fn(f[u]!, {
      kind: flags & 1 ? 'video' : 'audio',
      codec,
      key: (flags & 2) !== 0,
      pts: f[u + 3]!,
      dts: f[u + 4]!,
      data: Buffer.from(batch.buffer, f[u + 5]!, f[u + 6]!),
    });
  }
}

/** Main side: the numeric stats of a batch, by stream. */
export function forEachStats(batch: Batch, fn: (stream: number, s: Omit<StreamIngestStats, 'source' | 'videoCodec' | 'audioCodec'>) => void): void {
  const stats = new Float64Array(batch.buffer, batch.units * UNIT_FIELDS * 8, batch.stats * STAT_FIELDS);
  for (let i = 0; i < stats.length; i += STAT_FIELDS) {
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
