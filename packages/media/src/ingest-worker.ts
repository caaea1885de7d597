// Entry point of an ingest worker thread (started by IngestWorkerPool): runs the receive sockets,
// RTP parse, reorder and PS demux of its streams and posts access units to the main thread in
// batches. Outputs (FLV into node-media-server, HLS) stay on the main thread.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { IngestBatchWriter, type IngestRecycle, type IngestReply, type IngestRequest, type IngestWorkerData } from './ingest-worker-protocol.ts';
import { LocalStreamIngest } from './local-stream-ingest.ts';
import { UNIT_BLOCK_BYTES, UnitBlockWriter } from './unit-blocks.ts';

/** Stats of streams without new frames still reach the main thread this often (timeouts, stats()). */
const STATS_INTERVAL_MS = 100;

interface WorkerStream {
  ingest: LocalStreamIngest;
  /** packets + dropped at the last stats sent, to skip streams with nothing new */
  sentActivity: number;
  sentCodecs: string;
  /** frames are being dropped (main thread behind): resume at the next video key frame */
  waitKey: boolean;
  droppedFrames: number;
}

const port = parentPort;
if (!port) throw new Error('ingest-worker.ts runs as a worker thread (see IngestWorkerPool)');
const { index, logLevel, maxInFlightBytes } = workerData as IngestWorkerData;
const log = pino({ level: logLevel }).child({ part: 'ingest-worker', worker: index });
const streams = new Map<number, WorkerStream>();
// blocks small enough that a low in-flight limit still holds several
const blocks = new UnitBlockWriter(maxInFlightBytes, Math.max(1024, Math.min(UNIT_BLOCK_BYTES, Math.floor(maxInFlightBytes / 16 / 8) * 8)));
const batch = new IngestBatchWriter(blocks);
let scheduled = false;
/** frames dropped since the main thread last kept up (logged when it falls behind and when it catches up) */
let droppedFrames = 0;

function post(reply: IngestReply): void {
  port!.postMessage(reply);
}

function postBatch(): void {
  const message = batch.take();
  port!.postMessage(message, message.blocks.map((b) => b.buffer));
}

function noteStats(id: number, s: WorkerStream): void {
  const st = s.ingest.stats();
  s.sentActivity = st.packets + st.dropped;
  batch.stats(id, { ...st, droppedFrames: s.droppedFrames });
  const codecs = `${st.videoCodec ?? ''}/${st.audioCodec ?? ''}`;
  if (codecs !== s.sentCodecs) {
    s.sentCodecs = codecs;
    batch.event({ stream: id, type: 'codecs', videoCodec: st.videoCodec, audioCodec: st.audioCodec });
  }
}

/** Posts what is collected now: units, events and the stats of the streams they belong to. */
function sendBatch(): void {
  scheduled = false;
  if (batch.empty) return;
  postBatch();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  // one batch per event-loop turn: every datagram read in this turn is in it
  setImmediate(sendBatch);
}

setInterval(() => {
  for (const [id, s] of streams) {
    const st = s.ingest.stats();
    if (st.packets + st.dropped !== s.sentActivity) noteStats(id, s);
  }
  if (!batch.empty) schedule();
}, STATS_INTERVAL_MS);

async function open(req: Extract<IngestRequest, { op: 'open' }>): Promise<void> {
  const ingest = await LocalStreamIngest.open({
    transport: req.transport,
    bindIp: req.bindIp,
    port: req.port,
    reorderWindow: req.reorderWindow,
    expectedSsrc: req.expectedSsrc,
    udpReceive: req.udpReceive,
    // each unit is copied into a block as it is emitted
    transient: true,
    logger: log.child({ streamId: req.name }),
  });
  const s: WorkerStream = { ingest, sentActivity: 0, sentCodecs: '/', waitKey: false, droppedFrames: 0 };
  streams.set(req.stream, s);
  ingest.on('accessUnit', (au) => {
    if (s.waitKey && (au.kind !== 'video' || !au.key)) {
      s.droppedFrames++;
      return;
    }
    if (!batch.unit(req.stream, au)) {
      // The main thread is not keeping up: drop rather than queue without bound (in-process the
      // kernel's socket buffer would drop instead), and restart each stream at a key frame.
      if (droppedFrames === 0) log.warn({ inFlight: blocks.inFlight }, 'main thread behind; dropping frames');
      droppedFrames++;
      s.droppedFrames++;
      s.waitKey = true;
      return;
    }
    s.waitKey = false;
    // stats follow with the periodic flush (STATS_INTERVAL_MS): building them per frame cost
    // more than the frame's own record
    schedule();
  });
  ingest.on('bound', ({ host, port: p }) => {
    batch.event({ stream: req.stream, type: 'bound', host, port: p });
    noteStats(req.stream, s);
    schedule();
  });
  ingest.on('disconnected', ({ reason }) => {
    batch.event({ stream: req.stream, type: 'disconnected', reason });
    schedule();
  });
  post({ op: 'done', id: req.id, port: ingest.port });
}

/** This thread's user+system CPU in ms, from /proc/thread-self/stat (fields 14 and 15, in 1/100 s). */
function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

async function handle(req: IngestRequest): Promise<void> {
  if (req.op === 'open') return open(req);
  if (req.op === 'usage') {
    // stats of every stream go first, so the caller reads counts as of this moment
    for (const [id, s] of streams) noteStats(id, s);
    sendBatch();
    return post({ op: 'done', id: req.id, cpuMs: threadCpuMs() });
  }
  const s = streams.get(req.stream);
  if (!s) {
    // closed already (or never opened): nothing to do
    post({ op: 'done', id: req.id });
    return;
  }
  if (req.op === 'connect') {
    await s.ingest.connect(req.host, req.port);
  } else if (req.op === 'flush') {
    await s.ingest.flush();
    noteStats(req.stream, s);
    // the flushed units must reach the main thread before the reply does
    sendBatch();
  } else {
    streams.delete(req.stream);
    await s.ingest.close();
    sendBatch();
  }
  post({ op: 'done', id: req.id });
}

port.on('message', (req: IngestRequest | IngestRecycle) => {
  if (req.op === 'recycle') {
    for (const b of req.buffers) blocks.recycle(b);
    if (droppedFrames > 0 && blocks.inFlight <= blocks.maxInFlight / 2) {
      log.warn({ droppedFrames }, 'main thread caught up; frames flow again');
      droppedFrames = 0;
    }
    return;
  }
  handle(req).catch((err: unknown) => {
    const e = err as NodeJS.ErrnoException;
    post({ op: 'failed', id: req.id, name: e?.name ?? 'Error', message: e?.message ?? String(err), code: e?.code });
  });
});
post({ op: 'ready' });
