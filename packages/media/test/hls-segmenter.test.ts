import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { HlsSegmenter, HLS_PLAYLIST } from '../src/hls-segmenter.ts';
import { NativeHlsSegmenter } from '../src/native-hls-segmenter.ts';
import { splitAnnexBAccessUnits } from '../src/annexb.ts';
import type { AccessUnit } from '../src/access-unit.ts';
import { ensureAacFixture, ensureFixture } from './support/fixtures.ts';
import { ffprobeStreams } from './support/probe.ts';

const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });

async function videoUnits(codec: 'h264' | 'h265'): Promise<AccessUnit[]> {
  const es = await readFile(await ensureFixture({ codec, seconds: 10, fps: 25, gop: 50 }));
  return splitAnnexBAccessUnits(es, codec, 25);
}

async function aacUnits(): Promise<AccessUnit[]> {
  const adts = await readFile(await ensureAacFixture({ seconds: 10 }));
  const out: AccessUnit[] = [];
  let off = 0;
  while (off + 7 <= adts.length) {
    const len = ((adts[off + 3]! & 3) << 11) | (adts[off + 4]! << 3) | (adts[off + 5]! >> 5);
    const ts = Math.round((out.length * 1024 * 90000) / 44100);
    out.push({ kind: 'audio', codec: 'aac', data: adts.subarray(off, off + len), pts: ts, dts: ts, key: true });
    off += len;
  }
  return out;
}

function interleave(...lists: AccessUnit[][]): AccessUnit[] {
  return lists.flat().sort((a, b) => a.dts - b.dts || (a.kind === 'video' ? -1 : 1));
}

const impls = [
  ['HlsSegmenter', HlsSegmenter],
  ['NativeHlsSegmenter', NativeHlsSegmenter],
] as const;

for (const [name, Segmenter] of impls) {
async function segment(units: AccessUnit[], playlistSize: number): Promise<{ dir: string; playlist: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'hls-seg-'));
  const seg = new Segmenter({ dir: join(dir, 's'), segmentSeconds: 2, playlistSize, logger });
  for (const au of units) seg.input(au);
  await seg.finish();
  const playlist = seg.playlist ?? '';
  await writeFile(join(dir, 's', HLS_PLAYLIST), playlist);
  return { dir, playlist };
}

test(`${name} cuts H.264 + AAC into ~2 s TS segments that ffprobe reads back as all 250 frames`, async () => {
  const audio = await aacUnits();
  const { dir, playlist } = await segment(interleave(await videoUnits('h264'), audio), 10);
  try {
    assert.match(playlist, /#EXT-X-TARGETDURATION:2/);
    assert.match(playlist, /#EXT-X-ENDLIST/);
    const durations = [...playlist.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
    // five 2 s GOPs, plus a sliver when the audio runs a few ms past the last video frame
    assert.ok(durations.length === 5 || (durations.length === 6 && durations[5]! < 0.2), `segments ${durations}`);
    for (const d of durations.slice(0, 5)) assert.ok(Math.abs(d - 2) < 0.05, `segment of ${d} s`);
    const streams = await ffprobeStreams(join(dir, 's', HLS_PLAYLIST));
    const v = streams.find((s) => s.codec === 'h264');
    assert.deepEqual(v, { codec: 'h264', width: 640, height: 360, frames: 250 });
    const a = streams.find((s) => s.codec === 'aac');
    assert.ok(a && Math.abs(a.frames - audio.length) <= 2, `aac frames ${a?.frames} of ${audio.length}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(`${name} muxes H.265 into TS that ffprobe reads as 640x360 hevc with 250 frames`, async () => {
  const { dir } = await segment(await videoUnits('h265'), 10);
  try {
    const [v] = await ffprobeStreams(join(dir, 's', HLS_PLAYLIST));
    assert.deepEqual(v, { codec: 'hevc', width: 640, height: 360, frames: 250 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(`${name} keeps a sliding playlist and deletes older segments from disk`, async () => {
  const { dir, playlist } = await segment(await videoUnits('h264'), 2);
  try {
    const listed = [...playlist.matchAll(/^(seg-\d+\.ts)$/gm)].map((m) => m[1]);
    assert.equal(listed.length, 2);
    assert.match(playlist, /#EXT-X-MEDIA-SEQUENCE:3/);
    const onDisk = (await readdir(join(dir, 's'))).filter((f) => f.endsWith('.ts')).sort();
    assert.deepEqual(onDisk, [...listed].sort());
    for (const f of onDisk) assert.ok((await stat(join(dir, 's', f))).size > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(`${name}.destroy() removes the stream directory`, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hls-seg-'));
  const seg = new Segmenter({ dir: join(dir, 's'), segmentSeconds: 2, playlistSize: 3, logger });
  for (const au of (await videoUnits('h264')).slice(0, 120)) seg.input(au);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok((await readdir(join(dir, 's'))).length > 0);
  await seg.destroy();
  await assert.rejects(stat(join(dir, 's')));
  await rm(dir, { recursive: true, force: true });
});
}

test('NativeHlsSegmenter reopens a finished playlist after a discontinuity when the source resumes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hls-seg-'));
  try {
    const seg = new NativeHlsSegmenter({ dir: join(dir, 's'), segmentSeconds: 2, playlistSize: 10, logger });
    const units = await videoUnits('h264');
    for (const au of units.slice(0, 100)) seg.input(au);
    await seg.finish();
    assert.match(seg.playlist ?? '', /#EXT-X-ENDLIST/);
    for (const au of units.slice(100)) seg.input(au);
    await seg.finish();
    const playlist = seg.playlist ?? '';
    assert.equal(playlist.match(/#EXT-X-DISCONTINUITY/g)?.length, 1);
    assert.equal(playlist.match(/#EXT-X-ENDLIST/g)?.length, 1);
    await writeFile(join(dir, 's', HLS_PLAYLIST), playlist);
    const [v] = await ffprobeStreams(join(dir, 's', HLS_PLAYLIST));
    assert.equal(v?.frames, 250);
    await seg.destroy();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
