// Benchmark (not a test), issue item 8a: demux + remux throughput of a ~100 MB GB PS file to FLV
// and to HLS, against ffmpeg doing the same work on the same file in the same run:
//   FLV: ours (PsDemuxer + FlvMuxer, one file) vs `ffmpeg -c copy -f flv` (one file);
//   HLS: ours (PsDemuxer + NativeHlsSegmenter: 2 s segments + playlist written to disk) vs
//        `ffmpeg -c copy -f hls -hls_time 2 -hls_list_size 0` (2 s segments + playlist, same kind of
//        directory); `ffmpeg -f mpegts` (one .ts, less work) is printed for reference.
// Prints one line; ratio = ffmpeg time / our time (>= 1.0 = as fast), best of --runs, for wall
// time and for CPU time (user + system; ffmpeg's from the shell's `times`, ours from
// process.cpuUsage(), so file writes on libuv's threads count too). CPU time is what load skews least.
// Our paths first get --warmup untimed passes over the file (a server's JIT is warm).
//   node --import tsx bench/media-remux.ts [--mb 100] [--runs 2] [--warmup 2] [--mediabunny] [--each]
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { PsDemuxer } from '../packages/media/src/ps-demuxer.ts';
import { PsMuxer } from '../packages/media/src/ps-muxer.ts';
import { splitAnnexBAccessUnits } from '../packages/media/src/annexb.ts';
import { FlvMuxer, flvFileHeader, type FlvTag } from '../packages/media/src/flv-muxer.ts';
import { HlsSegmenter } from '../packages/media/src/hls-segmenter.ts';
import { NativeHlsSegmenter } from '../packages/media/src/native-hls-segmenter.ts';
import type { AccessUnit } from '../packages/media/src/access-unit.ts';
import { FIXTURE_DIR, runFfmpeg } from '../packages/media/test/support/fixtures.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const targetMb = arg('mb', 100);
const runs = arg('runs', 2);
const withMediabunny = process.argv.includes('--mediabunny');
const warmups = arg('warmup', 2);
/** --each: also print every run's figures (to stderr) */
const each = process.argv.includes('--each');
const logger = pino({ level: 'silent' });

/** A GB-shaped PS file of about `mb` MB: 1080p H.264 with noise (so it is big), muxed by our PsMuxer. */
async function benchPsFile(mb: number): Promise<string> {
  await mkdir(FIXTURE_DIR, { recursive: true });
  const ps = join(FIXTURE_DIR, `bench-remux-${mb}mb.ps`);
  try {
    if ((await stat(ps)).size > 0) return ps;
  } catch {
    // made below
  }
  const seconds = 40;
  const es = join(FIXTURE_DIR, `bench-remux-${mb}mb.h264`);
  const kbps = Math.round((mb * 8 * 1024) / seconds);
  await runFfmpeg([
    '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=25:duration=${seconds}`, '-vf', 'noise=alls=30:allf=t',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', '50', '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`,
    '-bufsize', `${kbps}k`, '-f', 'h264', es,
  ]);
  const units = splitAnnexBAccessUnits(await readFile(es), 'h264', 25);
  const mux = new PsMuxer({ videoCodec: 'h264' });
  await writeFile(ps, Buffer.concat(units.map((u) => mux.mux(u))));
  await rm(es, { force: true });
  return ps;
}

interface Timing {
  ms: number;
  cpuMs: number;
}

/** Runs a command under bash and reads its CPU time from `times` (children's user and system). */
function time(cmd: string, args: string[]): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const quoted = [cmd, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const p = spawn('bash', ['-c', `${quoted} || exit $?; times`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) return reject(new Error(`${cmd} failed: ${err}`));
      // second line of `times`: children's user and system time, e.g. "0m0.303s 0m0.084s"
      const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(out.trim().split('\n')[1] ?? '');
      if (!m) return reject(new Error(`no CPU times from bash: ${out}`));
      const cpuMs = (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000;
      resolve({ ms, cpuMs });
    });
  });
}

/** Wall and CPU time of one of our runs. */
async function measure(run: () => Promise<void>): Promise<Timing> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await run();
  const c = process.cpuUsage(c0);
  return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

/** Reads the PS in 1400-byte chunks (what RTP payloads look like) through our demuxer. */
async function demux(path: string, onAu: (au: AccessUnit) => void): Promise<number> {
  const fh = await open(path);
  const d = new PsDemuxer(onAu, logger);
  let frames = 0;
  for (;;) {
    // a fresh buffer per read: access units may keep views into it
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    if (bytesRead === 0) break;
    for (let o = 0; o < bytesRead; o += 1400) d.input(buf.subarray(o, Math.min(bytesRead, o + 1400)));
    frames++;
  }
  d.flush();
  await fh.close();
  return frames;
}

function encodeFlvTagHead(t: FlvTag): { head: Buffer; tail: Buffer } {
  const head = Buffer.alloc(11);
  head[0] = t.type;
  head.writeUIntBE(t.data.length, 1, 3);
  head.writeUIntBE(t.timestamp & 0xffffff, 4, 3);
  head[7] = (t.timestamp >>> 24) & 0xff;
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(11 + t.data.length, 0);
  return { head, tail };
}

async function oursFlv(ps: string, out: string): Promise<void> {
  const fh = await open(out, 'w');
  let batch: Buffer[] = [flvFileHeader(false, true)];
  let writes = Promise.resolve();
  const flv = new FlvMuxer({
    onTag: (t) => {
      // the muxer builds each tag in one piece (FlvTag.message); else header and trailer go around
      // the body, written with writev: no copy of the frame either way
      if (t.message) batch.push(t.message);
      else {
        const whole = encodeFlvTagHead(t);
        batch.push(whole.head, t.data, whole.tail);
      }
    },
  });
  await demux(ps, (au) => {
    flv.input(au);
    if (batch.length >= 256) {
      const b = batch;
      batch = [];
      writes = writes.then(() => fh.writev(b).then(() => {}));
    }
  });
  const last = batch;
  await writes.then(() => fh.writev(last));
  await fh.close();
}

async function oursHls(ps: string, dir: string, native: boolean): Promise<void> {
  // playlist as long as the file so every segment stays (ffmpeg's -hls_list_size 0 keeps them all too)
  const o = { dir, segmentSeconds: 2, playlistSize: 1000, logger };
  const hls = native ? new NativeHlsSegmenter(o) : new HlsSegmenter({ ...o, maxQueue: 1_000_000 });
  await demux(ps, (au) => hls.input(au));
  await hls.finish();
  // live, the playlist is served from memory; here it goes to disk as ffmpeg's does
  await writeFile(join(dir, 'index.m3u8'), hls.playlist ?? '');
}

async function probeFrames(path: string): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn('ffprobe', ['-v', 'error', '-count_packets', '-select_streams', 'v', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', path]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // an HLS playlist can list the stream once per program: take the first count
    p.on('close', () => resolve(Number(out.split('\n').find((l) => l.trim() !== '') ?? NaN)));
  });
}

const ps = await benchPsFile(targetMb);
const size = (await stat(ps)).size;
const work = join(FIXTURE_DIR, `bench-remux-out-${process.pid}`);
await mkdir(work, { recursive: true });
const none = (): Timing => ({ ms: Infinity, cpuMs: Infinity });
const best = { ffFlv: none(), ffHls: none(), ffTs: none(), flv: none(), hls: none(), hlsMb: none() };
const keep = (k: keyof typeof best, t: Timing): void => {
  if (each) console.error(`run ${k}: ${t.ms.toFixed(0)} ms, cpu ${t.cpuMs.toFixed(0)} ms`);
  best[k] = { ms: Math.min(best[k].ms, t.ms), cpuMs: Math.min(best[k].cpuMs, t.cpuMs) };
};
const fresh = async (dir: string): Promise<string> => {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
};
try {
  // Untimed warm-up passes of our paths over the whole file: the gateway is a long-running process
  // whose JIT is warm, while a fresh V8 needs about three passes (re-optimising after early type
  // guesses) before its CPU per pass settles, 40-60 % above the settled figure on the first.
  // (ffmpeg's figures include its process start, ~20 ms.)
  for (let i = 0; i < warmups; i++) {
    await oursFlv(ps, join(work, 'warm.flv'));
    await oursHls(ps, join(work, 'warm-hls'), true);
    await rm(join(work, 'warm-hls'), { recursive: true, force: true });
  }
  await rm(join(work, 'warm.flv'), { force: true });
  // FLV runs first, then HLS runs (ours and ffmpeg's alternating): each of our runs then collects
  // the garbage of a run of its own kind, as a server in steady state would, not the other path's.
  for (let r = 0; r < runs; r++) {
    keep('ffFlv', await time('ffmpeg', ['-v', 'error', '-y', '-i', ps, '-c', 'copy', '-f', 'flv', join(work, 'ff.flv')]));
    keep('flv', await measure(() => oursFlv(ps, join(work, 'ours.flv'))));
  }
  for (let r = 0; r < runs; r++) {
    const ffDir = await fresh(join(work, 'ff-hls'));
    keep('ffHls', await time('ffmpeg', ['-v', 'error', '-y', '-i', ps, '-c', 'copy', '-f', 'hls', '-hls_time', '2', '-hls_list_size', '0',
      '-hls_segment_filename', join(ffDir, 'seg-%d.ts'), join(ffDir, 'index.m3u8')]));
    const ourDir = join(work, 'hls');
    await rm(ourDir, { recursive: true, force: true });
    keep('hls', await measure(() => oursHls(ps, ourDir, true)));
    keep('ffTs', await time('ffmpeg', ['-v', 'error', '-y', '-i', ps, '-c', 'copy', '-f', 'mpegts', join(work, 'ff.ts')]));
    await rm(join(work, 'ff.ts'), { force: true });
  }
  if (withMediabunny) {
    for (let r = 0; r < runs; r++) {
      await rm(join(work, 'hls-mb'), { recursive: true, force: true });
      keep('hlsMb', await measure(() => oursHls(ps, join(work, 'hls-mb'), false)));
    }
  }
  const flvFrames = await probeFrames(join(work, 'ours.flv'));
  const ffFrames = await probeFrames(join(work, 'ff.flv'));
  const segs = async (dir: string): Promise<number> => (await readdir(dir)).filter((f) => f.endsWith('.ts')).length;
  const [ourSegs, ffSegs] = [await segs(join(work, 'hls')), await segs(join(work, 'ff-hls'))];
  // every frame of our HLS, read back through the playlist
  const hlsFrames = await probeFrames(join(work, 'hls', 'index.m3u8'));
  const mb = size / 1e6;
  const f = (t: Timing): string => `${t.ms.toFixed(0)}ms(${((mb * 1000) / t.ms).toFixed(0)}MB/s,cpu ${t.cpuMs.toFixed(0)}ms)`;
  const ratio = (ff: Timing, ours: Timing): string => `${(ff.ms / ours.ms).toFixed(2)}(cpu ${(ff.cpuMs / ours.cpuMs).toFixed(2)})`;
  console.log(
    `media-remux file=${mb.toFixed(1)}MB runs=${runs} best-of: ours-flv=${f(best.flv)} ffmpeg-flv=${f(best.ffFlv)} ratio-flv=${ratio(best.ffFlv, best.flv)} ` +
      `ours-hls(native-ts)=${f(best.hls)} ffmpeg-hls=${f(best.ffHls)} ratio-hls=${ratio(best.ffHls, best.hls)} ` +
      `ffmpeg-mpegts(one file)=${f(best.ffTs)} ratio-vs-mpegts=${ratio(best.ffTs, best.hls)} ` +
      (withMediabunny ? `ours-hls(mediabunny)=${f(best.hlsMb)} ratio-hls-mediabunny=${ratio(best.ffHls, best.hlsMb)} ` : '') +
      `segments ours=${ourSegs} ffmpeg=${ffSegs} frames ours-flv=${flvFrames} ffmpeg-flv=${ffFrames} ours-hls=${hlsFrames}`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
