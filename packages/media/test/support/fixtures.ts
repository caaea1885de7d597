import { spawn } from 'node:child_process';
import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessUnit } from '../../src/access-unit.ts';
import { splitAdtsFrames } from '../../src/adts.ts';
import { splitAnnexBAccessUnits } from '../../src/annexb.ts';
import { PsMuxer } from '../../src/ps-muxer.ts';
import { RtpPacketizer } from '../../src/rtp-packetizer.ts';

/** Fixtures are made at test time and cached here, keyed by their parameters. */
export const FIXTURE_DIR = join(tmpdir(), 'gb28181-fixtures');

export function runFfmpeg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).size > 0;
  } catch {
    return false;
  }
}

const inFlight = new Map<string, Promise<string>>();

/** Produces `name` once: concurrent test files write to a unique temp name and rename atomically. */
async function cached(name: string, make: (out: string) => Promise<void>): Promise<string> {
  const path = join(FIXTURE_DIR, name);
  if (await exists(path)) return path;
  let p = inFlight.get(path);
  if (!p) {
    p = (async () => {
      await mkdir(FIXTURE_DIR, { recursive: true });
      const ext = name.slice(name.lastIndexOf('.'));
      const tmp = join(FIXTURE_DIR, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}${ext}`);
      await make(tmp);
      await rename(tmp, path);
      return path;
    })();
    inFlight.set(path, p);
  }
  return p;
}

export interface VideoFixtureOptions {
  codec: 'h264' | 'h265';
  seconds?: number;
  fps?: number;
  gop?: number;
  width?: number;
  height?: number;
}

/**
 * ffmpeg lavfi testsrc -> Annex-B .h264/.h265 elementary stream. Encoded with no B-frames
 * (-bf 0 / bframes=0) so decode order equals display order and pts == dts, which is what
 * splitAnnexBAccessUnits assumes. Fixed GOP, no scene-cut keyframes.
 */
export function ensureFixture(o: VideoFixtureOptions): Promise<string> {
  const seconds = o.seconds ?? 10;
  const fps = o.fps ?? 25;
  const gop = o.gop ?? 50;
  const width = o.width ?? 640;
  const height = o.height ?? 360;
  const name = `testsrc-${width}x${height}-${fps}fps-${seconds}s-gop${gop}.${o.codec}`;
  return cached(name, (out) => {
    const input = ['-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=${fps}:duration=${seconds}`];
    const codec =
      o.codec === 'h264'
        ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-f', 'h264']
        : ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', `keyint=${gop}:min-keyint=${gop}:scenecut=0:bframes=0:log-level=error`, '-f', 'hevc'];
    return runFfmpeg([...input, '-pix_fmt', 'yuv420p', ...codec, out]);
  });
}

/** ADTS AAC of a 1 kHz tone (44.1 kHz mono). */
export function ensureAacFixture(o: { seconds?: number } = {}): Promise<string> {
  const seconds = o.seconds ?? 10;
  return cached(`tone-${seconds}s.aac`, (out) =>
    runFfmpeg(['-f', 'lavfi', '-i', `sine=frequency=1000:sample_rate=44100:duration=${seconds}`, '-ac', '1', '-c:a', 'aac', '-b:a', '64k', '-f', 'adts', out]),
  );
}

/** Raw 8 kHz mono G.711 (A-law or mu-law) of a 440 Hz tone. */
export function ensureG711Fixture(o: { law: 'a' | 'u'; seconds?: number }): Promise<string> {
  const seconds = o.seconds ?? 10;
  const fmt = o.law === 'a' ? 'alaw' : 'mulaw';
  return cached(`tone-${seconds}s.g711${o.law}`, (out) =>
    runFfmpeg(['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=8000:duration=${seconds}`, '-ac', '1', '-ar', '8000', '-c:a', `pcm_${fmt}`, '-f', fmt, out]),
  );
}

/** The video fixture split into access units (pts = dts = i * 90000 / fps). */
export async function loadVideoAccessUnits(o: VideoFixtureOptions): Promise<AccessUnit[]> {
  const es = await readFile(await ensureFixture(o));
  return splitAnnexBAccessUnits(es, o.codec, o.fps ?? 25);
}

/** Raw G.711 fixture as 20 ms audio access units (160 bytes at 8 kHz = 1800 ticks of 90 kHz). */
export async function loadG711AccessUnits(o: { law: 'a' | 'u'; seconds?: number }): Promise<AccessUnit[]> {
  const raw = await readFile(await ensureG711Fixture(o));
  const aus: AccessUnit[] = [];
  for (let i = 0; i * 160 < raw.length; i++) {
    const data = raw.subarray(i * 160, Math.min(raw.length, (i + 1) * 160));
    aus.push({ kind: 'audio', codec: o.law === 'a' ? 'g711a' : 'g711u', data, pts: i * 1800, dts: i * 1800, key: true });
  }
  return aus;
}

/** AAC fixture as one access unit per ADTS frame (1024 samples at 44.1 kHz). */
export async function loadAacAccessUnits(o: { seconds?: number } = {}): Promise<AccessUnit[]> {
  const frames = splitAdtsFrames(await readFile(await ensureAacFixture(o)));
  return frames.map((data, i) => {
    const pts = Math.round((i * 1024 * 90000) / 44100);
    return { kind: 'audio', codec: 'aac', data, pts, dts: pts, key: true };
  });
}

/** Interleaves access units of several tracks by dts (stable). */
export function interleave(...tracks: AccessUnit[][]): AccessUnit[] {
  return tracks.flat().sort((a, b) => a.dts - b.dts);
}

/** What a GB device sends: every access unit muxed into one PS pack and cut into RTP packets. */
export function toRtpPackets(
  aus: AccessUnit[],
  o: { ssrc?: number; initialSeq?: number; muxer?: PsMuxer; maxPayload?: number } = {},
): Buffer[][] {
  const mux = o.muxer ?? new PsMuxer();
  const pz = new RtpPacketizer({ ssrc: o.ssrc ?? 0x0100_0001, initialSeq: o.initialSeq ?? 0, maxPayload: o.maxPayload });
  return aus.map((au) => pz.packetize(mux.mux(au), au.pts));
}

/** Deterministic PRNG so shuffles and corpora are the same on every run. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles packets so that none moves further than `maxDisplacement` from its place. */
export function shuffleWithin<T>(items: T[], maxDisplacement: number, rand: () => number): T[] {
  const keyed = items.map((item, i) => ({ item, k: i + rand() * maxDisplacement }));
  keyed.sort((a, b) => a.k - b.k);
  return keyed.map((x) => x.item);
}
