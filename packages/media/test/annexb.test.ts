import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { detectVideoCodec, findNalUnits, isKeyAccessUnit, parseVideoSize, splitAnnexBAccessUnits } from '../src/annexb.ts';
import { splitAdtsFrames } from '../src/adts.ts';
import { ensureAacFixture, ensureFixture } from './support/fixtures.ts';

test('splitAnnexBAccessUnits() cuts the H.264 fixture into 250 frames, key every 50, bytes preserved', async () => {
  const es = await readFile(await ensureFixture({ codec: 'h264' }));
  const aus = splitAnnexBAccessUnits(es, 'h264', 25);
  assert.equal(aus.length, 250);
  assert.deepEqual(aus.flatMap((a, i) => (a.key ? [i] : [])), [0, 50, 100, 150, 200]);
  assert.equal(Buffer.concat(aus.map((a) => a.data)).equals(es), true);
  assert.equal(aus[1].pts, 3600);
  assert.equal(aus[249].dts, 249 * 3600);
  const sps = findNalUnits(aus[0].data).find((n) => (n[0] & 0x1f) === 7);
  assert.ok(sps);
  assert.deepEqual(parseVideoSize('h264', sps), { width: 640, height: 360 });
  assert.equal(isKeyAccessUnit('h264', aus[50].data), true);
  assert.equal(isKeyAccessUnit('h264', aus[51].data), false);
  assert.equal(detectVideoCodec(aus[0].data), 'h264');
});

test('splitAnnexBAccessUnits() cuts the H.265 fixture into 250 frames with VPS/SPS/PPS on key frames', async () => {
  const es = await readFile(await ensureFixture({ codec: 'h265' }));
  const aus = splitAnnexBAccessUnits(es, 'h265', 25);
  assert.equal(aus.length, 250);
  assert.deepEqual(aus.flatMap((a, i) => (a.key ? [i] : [])), [0, 50, 100, 150, 200]);
  const types = findNalUnits(aus[50].data).map((n) => (n[0] >> 1) & 0x3f);
  assert.ok(types.includes(32) && types.includes(33) && types.includes(34), `types ${types}`);
  const sps = findNalUnits(aus[0].data).find((n) => ((n[0] >> 1) & 0x3f) === 33);
  assert.ok(sps);
  assert.deepEqual(parseVideoSize('h265', sps), { width: 640, height: 360 });
  assert.equal(detectVideoCodec(aus[0].data), 'h265');
  assert.equal(detectVideoCodec(aus[1].data), 'h265');
});

test('findNalUnits() returns NAL units without start codes or trailing zeros', () => {
  const buf = Buffer.from([9, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4]);
  assert.deepEqual(findNalUnits(buf).map((n) => [...n]), [[0x67, 1, 2], [0x68, 3], [0x65, 4]]);
  assert.deepEqual(findNalUnits(Buffer.from([1, 2, 3])), []);
});

test('parseVideoSize() returns undefined for a truncated SPS instead of throwing', () => {
  assert.equal(parseVideoSize('h264', Buffer.from([0x67, 0x64])), undefined);
  assert.equal(parseVideoSize('h265', Buffer.from([0x42, 0x01, 0x01])), undefined);
});

test('splitAdtsFrames() finds every frame of the AAC fixture and skips garbage between frames', async () => {
  const aac = await readFile(await ensureAacFixture({ seconds: 2 }));
  const frames = splitAdtsFrames(aac);
  assert.ok(frames.length >= 85 && frames.length <= 90, `frames ${frames.length}`);
  assert.equal(Buffer.concat(frames).equals(aac), true);
  const dirty = Buffer.concat([Buffer.from([1, 2, 0xff, 3]), frames[0], Buffer.from([0xff, 0x00]), frames[1], frames[2].subarray(0, 5)]);
  assert.deepEqual(splitAdtsFrames(dirty), [frames[0], frames[1]]);
});
