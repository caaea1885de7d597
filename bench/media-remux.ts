// Benchmark (not a test), issue item 8a: demux + remux throughput of a ~100 MB GB PS file to FLV
// and to HLS (MPEG-TS segments via mediabunny), against `ffmpeg -i same.ps -c copy -f flv|mpegts`
// on the same file in the same run. Prints one line; ratio = ffmpeg time / our time (>= 1.0 = as fast).
//   node --import tsx bench/media-remux.ts [--mb 100] [--runs 2]
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
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

function time(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${cmd} failed: ${err}`))));
  });
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

async function oursFlv(ps: string, out: string): Promise<number> {
  const t0 = performance.now();
  const fh = await open(out, 'w');
  let batch: Buffer[] = [flvFileHeader(false, true)];
  let writes = Promise.resolve();
  const flv = new FlvMuxer({
    onTag: (t) => {
      // header and trailer around the tag body, written with writev: no copy of the frame
      const whole = encodeFlvTagHead(t);
      batch.push(whole.head, t.data, whole.tail);
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
  return performance.now() - t0;
}

async function oursHls(ps: string, dir: string, native: boolean): Promise<number> {
  const t0 = performance.now();
  // playlist as long as the file so every segment stays (what ffmpeg -f mpegts keeps too)
  const o = { dir, segmentSeconds: 2, playlistSize: 1000, logger };
  const hls = native ? new NativeHlsSegmenter(o) : new HlsSegmenter({ ...o, maxQueue: 1_000_000 });
  await demux(ps, (au) => hls.input(au));
  await hls.finish();
  return performance.now() - t0;
}

async function probeFrames(path: string): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn('ffprobe', ['-v', 'error', '-count_packets', '-select_streams', 'v', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', path]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', () => resolve(Number(out.trim())));
  });
}

const ps = await benchPsFile(targetMb);
const size = (await stat(ps)).size;
const work = join(FIXTURE_DIR, `bench-remux-out-${process.pid}`);
await mkdir(work, { recursive: true });
const best = { ffFlv: Infinity, ffTs: Infinity, flv: Infinity, hls: Infinity, hlsMb: Infinity };
try {
  for (let r = 0; r < runs; r++) {
    best.ffFlv = Math.min(best.ffFlv, await time('ffmpeg', ['-v', 'error', '-y', '-i', ps, '-c', 'copy', '-f', 'flv', join(work, 'ff.flv')]));
    best.flv = Math.min(best.flv, await oursFlv(ps, join(work, 'ours.flv')));
    best.ffTs = Math.min(best.ffTs, await time('ffmpeg', ['-v', 'error', '-y', '-i', ps, '-c', 'copy', '-f', 'mpegts', join(work, 'ff.ts')]));
    await rm(join(work, 'hls'), { recursive: true, force: true });
    best.hls = Math.min(best.hls, await oursHls(ps, join(work, 'hls'), true));
    await rm(join(work, 'hls'), { recursive: true, force: true });
    best.hlsMb = Math.min(best.hlsMb, await oursHls(ps, join(work, 'hls'), false));
  }
  const flvFrames = await probeFrames(join(work, 'ours.flv'));
  const ffFrames = await probeFrames(join(work, 'ff.flv'));
  const mb = size / 1e6;
  const f = (ms: number): string => `${ms.toFixed(0)}ms(${((mb * 1000) / ms).toFixed(0)}MB/s)`;
  console.log(
    `media-remux file=${mb.toFixed(1)}MB runs=${runs} best-of: ours-flv=${f(best.flv)} ffmpeg-flv=${f(best.ffFlv)} ratio-flv=${(best.ffFlv / best.flv).toFixed(2)} ` +
      `ours-hls(native-ts)=${f(best.hls)} ffmpeg-mpegts=${f(best.ffTs)} ratio-hls=${(best.ffTs / best.hls).toFixed(2)} ` +
      `ours-hls(mediabunny)=${f(best.hlsMb)} ratio-hls-mediabunny=${(best.ffTs / best.hlsMb).toFixed(2)} frames ours-flv=${flvFrames} ffmpeg-flv=${ffFrames}`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
