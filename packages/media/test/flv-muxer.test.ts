import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlvMuxer, encodeFlvTag, flvFileHeader, FLV_SCRIPT, FLV_VIDEO, type FlvTag } from '../src/flv-muxer.ts';
import { splitAnnexBAccessUnits } from '../src/annexb.ts';
import type { AccessUnit } from '../src/access-unit.ts';
import { ensureAacFixture, ensureFixture, ensureG711Fixture } from './support/fixtures.ts';
import { ffprobeStreams, libavStreams } from './support/probe.ts';

async function videoUnits(codec: 'h264' | 'h265'): Promise<AccessUnit[]> {
  const es = await readFile(await ensureFixture({ codec, seconds: 10, fps: 25, gop: 50 }));
  return splitAnnexBAccessUnits(es, codec, 25);
}

async function writeFlv(units: AccessUnit[]): Promise<{ path: string; tags: FlvTag[]; dir: string }> {
  const tags: FlvTag[] = [];
  const muxer = new FlvMuxer({ onTag: (t) => tags.push(t) });
  for (const au of units) muxer.input(au);
  muxer.close();
  const dir = await mkdtemp(join(tmpdir(), 'flv-muxer-'));
  const path = join(dir, 'out.flv');
  await writeFile(path, Buffer.concat([flvFileHeader(true, true), ...tags.map(encodeFlvTag)]));
  return { path, tags, dir };
}

function interleave(video: AccessUnit[], audio: AccessUnit[]): AccessUnit[] {
  return [...video, ...audio].sort((a, b) => a.dts - b.dts || (a.kind === 'video' ? -1 : 1));
}

test('FlvMuxer writes H.264 that ffprobe reads as 640x360 h264 with all 250 frames, onMetaData first', async () => {
  const { path, tags, dir } = await writeFlv(await videoUnits('h264'));
  try {
    assert.equal(tags[0]?.type, FLV_SCRIPT);
    assert.ok(tags[0]!.data.includes(Buffer.from('onMetaData')));
    assert.equal(tags[1]?.type, FLV_VIDEO);
    assert.equal(tags[1]!.data[1], 0, 'AVC sequence header follows the metadata');
    const [v] = await ffprobeStreams(path);
    assert.deepEqual(v, { codec: 'h264', width: 640, height: 360, frames: 250 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('FlvMuxer writes H.265 as enhanced FLV hvc1 that libavformat 8 reads as 640x360 hevc with 250 frames', async () => {
  const { path, dir } = await writeFlv(await videoUnits('h265'));
  try {
    const [v] = await libavStreams(path);
    assert.deepEqual(v, { codec: 'hevc', width: 640, height: 360, frames: 250 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('FlvMuxer carries AAC from ADTS and keeps every audio frame', async () => {
  const video = await videoUnits('h264');
  const adts = await readFile(await ensureAacFixture({ seconds: 10 }));
  const audio: AccessUnit[] = [];
  let off = 0;
  let n = 0;
  while (off + 7 <= adts.length) {
    const len = ((adts[off + 3]! & 3) << 11) | (adts[off + 4]! << 3) | (adts[off + 5]! >> 5);
    const ts = Math.round((n++ * 1024 * 90000) / 44100);
    audio.push({ kind: 'audio', codec: 'aac', data: adts.subarray(off, off + len), pts: ts, dts: ts, key: true });
    off += len;
  }
  const { path, dir } = await writeFlv(interleave(video, audio));
  try {
    const streams = await ffprobeStreams(path);
    const a = streams.find((s) => s.codec === 'aac');
    const v = streams.find((s) => s.codec === 'h264');
    assert.equal(v?.frames, 250);
    assert.equal(a?.frames, audio.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('FlvMuxer carries G.711 A-law and mu-law natively', async () => {
  const video = await videoUnits('h264');
  for (const law of ['a', 'u'] as const) {
    const raw = await readFile(await ensureG711Fixture({ law, seconds: 10 }));
    const audio: AccessUnit[] = [];
    for (let i = 0; i * 320 < raw.length; i++) {
      const ts = i * 3600; // 40 ms of 8 kHz samples
      audio.push({ kind: 'audio', codec: law === 'a' ? 'g711a' : 'g711u', data: raw.subarray(i * 320, (i + 1) * 320), pts: ts, dts: ts, key: true });
    }
    const { path, dir } = await writeFlv(interleave(video, audio));
    try {
      const streams = await ffprobeStreams(path);
      const a = streams.find((s) => s.codec.startsWith('pcm_'));
      assert.equal(a?.codec, law === 'a' ? 'pcm_alaw' : 'pcm_mulaw');
      assert.equal(a?.frames, audio.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('FlvMuxer drops video until the first key frame and survives garbage input', async () => {
  const units = await videoUnits('h264');
  const tags: FlvTag[] = [];
  const drops: string[] = [];
  const muxer = new FlvMuxer({ onTag: (t) => tags.push(t), onDrop: (r) => drops.push(r) });
  muxer.input(units[1]!);
  assert.equal(tags.length, 0);
  muxer.input({ kind: 'video', codec: 'h264', data: Buffer.from([0, 0, 1, 0x67, 0xff]), pts: 0, dts: 0, key: true });
  muxer.input({ kind: 'audio', codec: 'aac', data: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), pts: 0, dts: 0, key: true });
  assert.equal(tags.length, 0);
  muxer.input(units[0]!);
  assert.equal(tags[0]?.type, FLV_SCRIPT);
  muxer.input({ kind: 'audio', codec: 'aac', data: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), pts: 0, dts: 0, key: true });
  assert.ok(drops.includes('AAC without ADTS sync word'));
});
