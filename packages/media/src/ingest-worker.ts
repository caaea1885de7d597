// Entry point of an ingest worker thread (started by IngestWorkerPool): runs the receive sockets,
// RTP parse, reorder and PS demux of its streams and posts access units to the main thread in
// batches. Outputs (FLV into node-media-server, HLS) stay on the main thread.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { IngestBatchWriter, type IngestAck, type IngestReply, type IngestRequest, type IngestWorkerData } from './ingest-worker-protocol.ts';
import { LocalStreamIngest } from './local-stream-ingest.ts';

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
const batch = new IngestBatchWriter();
let scheduled = false;
/** unit bytes posted to the main thread and not yet acknowledged: bounds memory when it falls behind */
let postedBytes = 0;
let ackedBytes = 0;
let droppedFrames = 0;

function post(reply: IngestReply, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(reply, transfer);
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
  const { message, transfer } = batch.take();
  postedBytes += message.bytes;
  post(message, transfer);
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
    logger: log.child({ streamId: req.name }),
  });
  const s: WorkerStream = { ingest, sentActivity: 0, sentCodecs: '/', waitKey: false, droppedFrames: 0 };
  streams.set(req.stream, s);
  ingest.on('accessUnit', (au) => {
    // the batch being collected counts too: batched UDP receive may read a whole backlog in one turn
    const inFlight = postedBytes + batch.bytes - ackedBytes;
    if (inFlight > maxInFlightBytes) {
      // The main thread is not keeping up: drop rather than queue without bound (in-process the
      // kernel's socket buffer would drop instead), and restart each stream at a key frame.
      if (droppedFrames === 0) log.warn({ inFlight }, 'main thread behind; dropping frames');
      droppedFrames++;
      s.droppedFrames++;
      s.waitKey = true;
      return;
    }
    if (s.waitKey) {
      if (au.kind !== 'video' || !au.key) {
        s.droppedFrames++;
        return;
      }
      s.waitKey = false;
    }
    batch.unit(req.stream, au);
    noteStats(req.stream, s);
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

port.on('message', (req: IngestRequest | IngestAck) => {
  if (req.op === 'ack') {
    ackedBytes += req.bytes;
    if (droppedFrames > 0 && postedBytes - ackedBytes <= maxInFlightBytes / 2) {
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
