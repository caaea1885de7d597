// Benchmark (not a test), issue item 8b: N concurrent 2 Mbit/s GB streams (PS over RTP/UDP, one
// port each) on loopback into one media engine for S seconds, each served as FLV (published into
// node-media-server) and HLS (TS segments on disk; --mediabunny for that muxer). The sender is a child process so its CPU
// is measured apart. Prints one line: loss, datagrams/s, engine CPU (main thread + ingest workers),
// sender CPU, RSS per stream. --workers K puts the ingest (sockets, RTP, reorder, PS demux) in K
// worker threads (MediaEngineOptions.ingestWorkers; 0 = all in the main thread; default: the
// engine's own, defaultIngestWorkers()).
// real-time=yes when the engine kept up: backlog at the sender's end < 1 % of what was sent, no
// loss and no frame dropped for a main thread behind its ingest workers; inconclusive when the sender itself was late >= 500 ms (a loaded machine: the offered rate
// dropped). cost-by-thread splits the engine's CPU per stream: main thread, ingest workers, other
// threads (mostly V8's GC helpers). steal= is CPU time the hypervisor took from this VM during the
// run (and its worst second): a run that drops frames under high steal was starved, not slow.
// loop-delay-max is the main thread's longest event-loop delay: one long task (GC pause, blocking
// call) shows there, a main thread that is merely short of CPU does not; in brackets, when each
// delay over 0.5 s began (seconds into the run) and how long it was.
// --udp dgram reads RTP with node:dgram instead of the udp-batch addon (recvmmsg, the default);
// the sender sends each stream's frame with one UDP GSO send (udp-batch; the kernel cuts it into
// the same datagrams), with one sendmmsg under --sender-sendmmsg, or with node:dgram per packet
// under --sender-dgram (the sender then costs ~40 % of a core at 300 streams).
//   node --import tsx bench/media-streams.ts [--streams 50] [--seconds 20] [--workers K] [--udp batch|dgram] [--sender-sendmmsg|--sender-dgram] [--in-step] [--hls-dir /dev/shm] [--no-hls] [--no-flv] [--mediabunny]
import { execFileSync, fork } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import pino from 'pino';
import { createMediaEngine, defaultIngestWorkers } from '../packages/media/src/media-engine.ts';
import type { MediaStream } from '../packages/media/src/media-stream.ts';
import { splitAnnexBAccessUnits } from '../packages/media/src/annexb.ts';
import { PsMuxer } from '../packages/media/src/ps-muxer.ts';
import { RtpPacketizer } from '../packages/media/src/rtp-packetizer.ts';
import { FIXTURE_DIR, runFfmpeg } from '../packages/media/test/support/fixtures.ts';
import { HlsSegmenter } from '../packages/media/src/hls-segmenter.ts';
import { NativeHlsSegmenter } from '../packages/media/src/native-hls-segmenter.ts';
import { FlvMuxer } from '../packages/media/src/flv-muxer.ts';
import { UdpBatchSocket, udpBatchAvailable } from '@gb28181/udp-batch';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('streams', 50);
const SECONDS = arg('seconds', 20);
const WORKERS = arg('workers', defaultIngestWorkers());
const FPS = 25;
const UDP_RECEIVE = process.argv.includes('--udp') && process.argv[process.argv.indexOf('--udp') + 1] === 'dgram' ? 'dgram' : 'batch';
const SENDER_DGRAM = process.argv.includes('--sender-dgram') || !udpBatchAvailable();
const SENDER_SENDMMSG = process.argv.includes('--sender-sendmmsg');
/**
 * Cameras' GOPs are not in step: stream i starts i % GOP frames into the fixture, so about N/GOP
 * streams send a key frame in each 40 ms. --in-step sends the same frame on every stream at once
 * (every key frame of every stream in the same 40 ms: a worst case no real deployment sees).
 */
const GOP = 50;
const IN_STEP = process.argv.includes('--in-step');
const phaseOf = (i: number): number => (IN_STEP ? 0 : i % GOP);

/** CPU ms of this process's main thread (its tid is the pid), from /proc. */
function mainThreadCpuMs(): number {
  try {
    const st = readFileSync(`/proc/self/task/${process.pid}/stat`, 'latin1');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU time the hypervisor gave to other guests while this VM wanted it (ms, summed over CPUs):
 * the `steal` field of /proc/stat. A run that drops frames while steal is high was starved, not slow.
 */
function stealMs(): number {
  try {
    const f = readFileSync('/proc/stat', 'latin1').slice(0, 200).split('\n', 1)[0]!.trim().split(/\s+/);
    return Number(f[8]) * 10;
  } catch {
    return Number.NaN;
  }
}

/** 10 s of 720p H.264 at 2 Mbit/s (noise keeps the rate up), GOP 50. */
async function fixture(): Promise<string> {
  const path = join(FIXTURE_DIR, 'bench-2mbit-720p-10s.h264');
  try {
    if ((await stat(path)).size > 0) return path;
  } catch {
    // made below
  }
  const tmp = `${path}.${process.pid}.h264`;
  await mkdir(FIXTURE_DIR, { recursive: true });
  await runFfmpeg([
    '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=${FPS}:duration=10`, '-vf', 'noise=alls=12:allf=t',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', '50', '-b:v', '2M', '-maxrate', '2M', '-bufsize', '1M',
    '-f', 'h264', tmp,
  ]);
  const { rename } = await import('node:fs/promises');
  await rename(tmp, path);
  return path;
}

/**
 * Frames of RTP payloads (PS packs cut at 1400 bytes): one entry per 40 ms frame, `seconds` long.
 * The 10 s fixture is muxed once per pass with its timestamps carried on, as a camera's would be.
 */
async function framePayloads(seconds: number): Promise<{ ts: number; payloads: Buffer[] }[]> {
  const units = splitAnnexBAccessUnits(await readFile(await fixture()), 'h264', FPS);
  const ps = new PsMuxer({ videoCodec: 'h264' });
  const rtp = new RtpPacketizer({ ssrc: 0, maxPayload: 1400 });
  const frames: { ts: number; payloads: Buffer[] }[] = [];
  for (let pass = 0; frames.length < seconds * FPS; pass++) {
    const shift = pass * units.length * (90000 / FPS);
    for (const u of units) {
      const au = { ...u, dts: u.dts + shift, pts: u.pts + shift };
      frames.push({ ts: au.dts, payloads: rtp.packetize(ps.mux(au), au.dts).map((p) => p.subarray(12)) });
    }
  }
  return frames;
}

/** Whether this kernel does UDP GSO (Linux >= 4.18): one segmented send to a socket of our own. */
function gsoWorks(): boolean {
  const probe = UdpBatchSocket.open({ host: '127.0.0.1', port: 0 });
  try {
    return probe.sendSegmented(Buffer.alloc(200), 100, probe.port, '127.0.0.1');
  } catch {
    return false;
  } finally {
    void probe.close();
  }
}

/**
 * Sends each stream's frame with one syscall: UDP GSO (the kernel cuts the frame's equal-sized
 * packets apart; the engine receives the same datagrams) or, under --sender-sendmmsg or where the
 * kernel lacks GSO, one sendmmsg. The packets of a frame are built once, back to back, and patched
 * per stream.
 */
async function batchSender(ports: number[], seconds: number, gso: boolean): Promise<void> {
  const frames = await framePayloads(seconds + GOP / FPS);
  const sock = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, sendBufferBytes: 8 * 1024 * 1024 });
  const state = ports.map((port, i) => ({ port, seq: (i * 7919) & 0xffff, ssrc: 0x10000 + i, phase: phaseOf(i) }));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  let sendErrors = 0;
  const totalFrames = seconds * FPS;
  type Built = { bytes: Buffer; pkts: Buffer[]; segment: number };
  for (let frameNo = 0; frameNo < totalFrames; frameNo++) {
    const due = t0 + frameNo * 40;
    const now = performance.now();
    if (due > now) await new Promise((r) => setTimeout(r, due - now));
    // the packets of each frame sent in this tick, built once
    const built = new Map<number, Built>();
    const packetsOf = (n: number): Built => {
      let b = built.get(n);
      if (b) return b;
      const f = frames[n]!;
      const ts = f.ts >>> 0;
      const bytes = Buffer.allocUnsafe(f.payloads.reduce((sum, p) => sum + 12 + p.length, 0));
      const pkts: Buffer[] = [];
      let o = 0;
      f.payloads.forEach((payload, k) => {
        const pkt = bytes.subarray(o, o + 12 + payload.length);
        pkt[0] = 0x80;
        pkt[1] = (k === f.payloads.length - 1 ? 0x80 : 0) | 96;
        pkt.writeUInt32BE(ts, 4);
        payload.copy(pkt, 12);
        pkts.push(pkt);
        o += pkt.length;
      });
      // GSO needs every packet but the last to have the same size
      const segment = pkts[0]!.length;
      b = { bytes, pkts, segment: pkts.slice(0, -1).every((p) => p.length === segment) ? segment : 0 };
      built.set(n, b);
      return b;
    };
    for (const s of state) {
      const { bytes, pkts, segment } = packetsOf(frameNo + s.phase);
      for (const pkt of pkts) {
        pkt.writeUInt16BE(s.seq, 2);
        pkt.writeUInt32BE(s.ssrc, 8);
        s.seq = (s.seq + 1) & 0xffff;
      }
      // the kernel copies the bytes before the send returns, so the packets are patched again for the next stream
      let done = 0;
      if (gso && segment > 0) {
        const perSend = Math.min(64, Math.floor(65_507 / segment));
        for (let tries = 0; done < pkts.length && tries < 100; tries++) {
          const n = Math.min(perSend, pkts.length - done);
          if (sock.sendSegmented(bytes.subarray(done * segment, Math.min(bytes.length, (done + n) * segment)), segment, s.port, '127.0.0.1')) done += n;
          else await new Promise((r) => setImmediate(r));
        }
      } else {
        for (let tries = 0; done < pkts.length && tries < 100; tries++) {
          done += sock.sendBatch(done === 0 ? pkts : pkts.slice(done), s.port, '127.0.0.1');
          if (done < pkts.length) await new Promise((r) => setImmediate(r));
        }
      }
      sent += done;
      sendErrors += pkts.length - done;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  await sock.close();
  process.send?.({ sent, sendErrors, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: wall, late: performance.now() - (t0 + totalFrames * 40), mode: gso ? 'gso' : 'sendmmsg' });
}

async function sender(ports: number[], seconds: number): Promise<void> {
  const frames = await framePayloads(seconds + GOP / FPS);
  const sock = dgram.createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await new Promise((r) => sock.once('listening', r));
  try {
    sock.setSendBufferSize(8 * 1024 * 1024);
  } catch {
    // capped by the kernel
  }
  const state = ports.map((port, i) => ({ port, seq: (i * 7919) & 0xffff, ssrc: 0x10000 + i, phase: phaseOf(i) }));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  let frameNo = 0;
  const totalFrames = seconds * FPS;
  let inFlight = 0;
  let sendErrors = 0;
  // one tick per frame period
  while (frameNo < totalFrames) {
    const due = t0 + frameNo * 40;
    const now = performance.now();
    if (due > now) await new Promise((r) => setTimeout(r, due - now));
    for (const s of state) {
      const f = frames[frameNo + s.phase]!;
      const ts = f.ts >>> 0;
      for (let k = 0; k < f.payloads.length; k++) {
        const payload = f.payloads[k]!;
        const pkt = Buffer.allocUnsafe(12 + payload.length);
        pkt[0] = 0x80;
        pkt[1] = (k === f.payloads.length - 1 ? 0x80 : 0) | 96;
        pkt.writeUInt16BE(s.seq, 2);
        pkt.writeUInt32BE(ts, 4);
        pkt.writeUInt32BE(s.ssrc, 8);
        payload.copy(pkt, 12);
        s.seq = (s.seq + 1) & 0xffff;
        inFlight++;
        sock.send(pkt, s.port, '127.0.0.1', (err) => {
          inFlight--;
          if (err) sendErrors++;
        });
        sent++;
      }
    }
    frameNo++;
  }
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  sock.close();
  process.send?.({ sent: sent - sendErrors, sendErrors, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: wall, late: performance.now() - (t0 + totalFrames * 40), mode: 'dgram' });
}

if (process.argv.includes('--sender')) {
  const ports = process.argv[process.argv.indexOf('--sender') + 1]!.split(',').map(Number);
  await (SENDER_DGRAM ? sender(ports, SECONDS) : batchSender(ports, SECONDS, !SENDER_SENDMMSG && gsoWorks()));
  process.exit(0);
}

// cost breakdown: --no-hls / --no-flv switch an output off (bench only) to see what each costs
if (process.argv.includes('--no-hls')) HlsSegmenter.prototype.input = NativeHlsSegmenter.prototype.input = () => {};
const hlsMuxer = process.argv.includes('--mediabunny') ? 'mediabunny' : 'native';
if (process.argv.includes('--no-flv')) FlvMuxer.prototype.input = () => {};
const outputs = `${process.argv.includes('--no-flv') ? '' : 'flv+'}${process.argv.includes('--no-hls') ? '' : `hls(${hlsMuxer})`}`;
/** The file system the HLS segments go to (ext2/ext3 = ext4, tmpfs, ...): it changes the kernel's share of the cost. */
function fileSystemOf(dir: string): string {
  try {
    return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

await framePayloads(1); // make the fixture before timing anything
const dataDir = await mkdtemp(join(tmpdir(), 'bench-streams-'));
// --hls-dir <dir>: the segments go to a fresh directory there (GB_MEDIA_HLS_DIR), e.g. a tmpfs
const hlsArg = process.argv.indexOf('--hls-dir');
const hlsDir = hlsArg >= 0 ? await mkdtemp(join(process.argv[hlsArg + 1]!, 'bench-hls-')) : join(dataDir, 'hls');
const base = 42000 + Math.floor(Math.random() * 100) * 10;
const engine = await createMediaEngine({
  bindIp: '127.0.0.1',
  rtpPorts: [base, base + N + 200],
  httpPort: 0,
  rtmpPort: null,
  dataDir,
  hlsDir,
  hls: { segmentSeconds: 2, playlistSize: 6, muxer: hlsMuxer },
  noViewerCloseS: 3600,
  firstPacketTimeoutS: 3600,
  idleTimeoutS: 3600,
  ingestWorkers: WORKERS,
  udpReceive: UDP_RECEIVE,
  logger: pino({ level: 'warn' }),
});
try {
  const streams: MediaStream[] = [];
  for (let i = 0; i < N; i++) streams.push(await engine.openStream({ streamId: `bench${i}`, transport: 'udp' }));
  const rss0 = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const workers0 = (await engine.ingestWorkers?.usage()) ?? [];
  const elu0 = performance.eventLoopUtilization();
  // one long task (a GC pause, a synchronous call) shows here; a main thread that is merely too slow does not
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const t0 = performance.now();
  // when the long tasks happened (s into the run: start-up, mid-run, drain) and how long they were
  const longTasks: string[] = [];
  let tick = t0;
  const taskWatch = setInterval(() => {
    const now = performance.now();
    if (now - tick > 600) longTasks.push(`${((tick - t0) / 1000).toFixed(1)}s+${((now - tick - 100) / 1000).toFixed(1)}`);
    tick = now;
  }, 100);
  const child = fork(new URL(import.meta.url).pathname, ['--sender', streams.map((s) => s.port).join(','), '--seconds', String(SECONDS), ...(SENDER_DGRAM ? ['--sender-dgram'] : []), ...(SENDER_SENDMMSG ? ['--sender-sendmmsg'] : []), ...(IN_STEP ? ['--in-step'] : [])], {
    execArgv: ['--import', 'tsx'],
  });
  let peakRss = rss0;
  const steal0 = stealMs();
  let lastSteal = steal0;
  let maxStealPerSecond = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    const steal = stealMs();
    maxStealPerSecond = Math.max(maxStealPerSecond, steal - lastSteal);
    lastSteal = steal;
    if (process.env.BENCH_MEM) console.log(`rss ${(m.rss / 1e6).toFixed(0)} heap ${(m.heapUsed / 1e6).toFixed(0)} ab ${(m.arrayBuffers / 1e6).toFixed(0)}`);
  }, 1000);
  type SenderReport = { sent: number; sendErrors: number; cpuMs: number; wallMs: number; late: number; mode: string };
  const report = await new Promise<SenderReport>((resolve, reject) => {
    child.once('message', (m) => resolve(m as SenderReport));
    child.once('exit', (code) => code !== 0 && reject(new Error(`sender exited ${code}`)));
  });
  // usage() also brings every worker's stream stats up to date before it answers
  const workersAtSenderEnd = (await engine.ingestWorkers?.usage()) ?? [];
  const atSenderEnd = streams.reduce((n, s) => n + s.stats().packets, 0);
  const eluSend = performance.eventLoopUtilization(elu0).utilization;
  const workerElu = workersAtSenderEnd.map((w, i) => performance.eventLoopUtilization(w.elu, workers0[i]!.elu).utilization);
  // let the last datagrams drain: wait until the count stops moving
  const count = (): number => streams.reduce((n, s) => n + s.stats().packets, 0);
  for (let last = -1, now = count(); now !== last; last = now, now = count()) {
    if (process.env.BENCH_DEBUG) console.log('received so far', now);
    await new Promise((r) => setTimeout(r, 1000));
  }
  clearInterval(sampler);
  loopDelay.disable();
  clearInterval(taskWatch);
  const stolenMs = stealMs() - steal0;
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const mainCpuMs = mainThreadCpuMs() - main0;
  const workersCpuMs = ((await engine.ingestWorkers?.usage()) ?? []).reduce((n, w, i) => n + w.cpuMs - workers0[i]!.cpuMs, 0);
  if (process.env.BENCH_DEBUG) {
    // which threads burn the "other" CPU (V8 GC helpers, libuv pool, ...): cumulative since start
    const { readdirSync } = await import('node:fs');
    const byName = new Map<string, number>();
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim();
        const st = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        byName.set(`${tid === String(process.pid) ? 'main' : tid}:${comm}`, (Number(f[11]) + Number(f[12])) * 10);
      } catch {
        // thread ended
      }
    }
    console.log('thread cpu since start (ms):', [...byName].filter(([, ms]) => ms > 0).sort((x, y) => y[1] - x[1]).map(([k, ms]) => `${k}=${ms}`).join(' '));
  }
  let received = 0;
  let lost = 0;
  let frames = 0;
  let droppedFrames = 0;
  let lossyStreams = 0;
  let silentStreams = 0;
  for (const s of streams) {
    const st = s.stats();
    if (st.packets === 0) silentStreams++;
    received += st.packets;
    lost += st.lost;
    frames += st.frames;
    droppedFrames += st.droppedFrames;
    if (st.lost > 0) lossyStreams++;
  }
  const segs = (await readdir(join(hlsDir, 'bench0')).catch(() => [])).filter((f) => f.endsWith('.ts')).length;
  const missing = report.sent - received;
  const engineCpuMs = (cpu.user + cpu.system) / 1000;
  const engineCpu = (engineCpuMs / wall) * 100;
  // the machine is shared: cost per stream (CPU time / stream time) is what carries over, not %busy
  const perStream = (engineCpuMs / (N * SECONDS * 1000)) * 100;
  const backlog = ((report.sent - atSenderEnd) / report.sent) * 100;
  const secs = (ms: number): string => (ms / 1000).toFixed(1);
  const perStreamOf = (ms: number): string => ((ms / (N * SECONDS * 1000)) * 100).toFixed(2);
  // a late sender means the machine, not the engine, set the pace: the run says nothing about real time
  const realTime = report.late >= 500 ? 'inconclusive(sender-late)' : backlog < 1 && missing === 0 && lost === 0 && droppedFrames === 0 ? 'yes' : 'no';
  console.log(
    `media-streams outputs=${outputs || 'none'} workers=${WORKERS} udp=${UDP_RECEIVE} sender=${report.mode} gops=${IN_STEP ? 'in-step' : 'staggered'} hls-fs=${fileSystemOf(hlsDir)} streams=${N} seconds=${SECONDS} sent=${report.sent} received=${received} missing=${missing} rtp-lost=${lost} ` +
      `lossy-streams=${lossyStreams} silent-streams=${silentStreams} send-errors=${report.sendErrors} loss=${((missing / report.sent) * 100).toFixed(3)}% dgram/s=${Math.round(report.sent / (report.wallMs / 1000))} ` +
      `frames=${frames}/${N * SECONDS * FPS} dropped-frames=${droppedFrames} backlog-at-sender-end=${backlog.toFixed(1)}% loop-util=${(eluSend * 100).toFixed(0)}%` +
      `${workerElu.length ? `(workers ${workerElu.map((u) => `${(u * 100).toFixed(0)}%`).join(',')})` : ''} loop-delay-max=${(loopDelay.max / 1e6).toFixed(0)}ms(${longTasks.join(',') || 'none over 0.5 s'}) ` +
      `engine-cpu=${secs(engineCpuMs)}s(${engineCpu.toFixed(0)}%core; main ${secs(mainCpuMs)}s, workers ${secs(workersCpuMs)}s, other threads ${secs(engineCpuMs - mainCpuMs - workersCpuMs)}s) cost=${perStream.toFixed(2)}%core/stream ` +
      `cost-by-thread=main ${perStreamOf(mainCpuMs)}/workers ${perStreamOf(workersCpuMs)}/other ${perStreamOf(engineCpuMs - mainCpuMs - workersCpuMs)} ` +
      `sender-cpu=${((report.cpuMs / report.wallMs) * 100).toFixed(0)}%core ` +
      `sender-late=${report.late.toFixed(0)}ms steal=${secs(stolenMs)}s(max ${secs(maxStealPerSecond)}s in 1 s) rss=${(peakRss / 1e6).toFixed(0)}MB rss/stream=${((peakRss - rss0) / N / 1e3).toFixed(0)}KB ` +
      `hls-segments(bench0)=${segs} no-loss=${missing === 0 && lost === 0} real-time=${realTime}`,
  );
} finally {
  await engine.close();
  await rm(dataDir, { recursive: true, force: true });
  await rm(hlsDir, { recursive: true, force: true });
}
