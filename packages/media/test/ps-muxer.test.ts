import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { splitAnnexBAccessUnits } from '../src/annexb.ts';
import { PsMuxer, MAX_PES_PAYLOAD } from '../src/ps-muxer.ts';
import { ensureFixture } from './support/fixtures.ts';

const run = promisify(execFile);

async function ffprobeFrames(file: string): Promise<{ codec: string; width: number; height: number; frames: number }> {
  const { stdout } = await run('ffprobe', [
    '-v', 'error', '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', file,
  ]);
  const s = JSON.parse(stdout).streams[0];
  return { codec: s.codec_name, width: s.width, height: s.height, frames: Number(s.nb_read_frames) };
}

function startCodesAt(buf: Buffer): number[] {
  const ids: number[] = [];
  for (let i = buf.indexOf(Buffer.from([0, 0, 1])); i !== -1 && i + 3 < buf.length; i = buf.indexOf(Buffer.from([0, 0, 1]), i + 3)) {
    if (buf[i + 3] >= 0xb9) ids.push(buf[i + 3]);
  }
  return ids;
}

for (const [codec, probed] of [['h264', 'h264'], ['h265', 'hevc']] as const) {
  test(`PsMuxer output of the 10 s ${codec} fixture is read by ffprobe as ${probed} 640x360 with 250 frames`, async () => {
    const es = await readFile(await ensureFixture({ codec }));
    const aus = splitAnnexBAccessUnits(es, codec, 25);
    assert.equal(aus.length, 250);
    assert.equal(aus.filter((a) => a.key).length, 5);
    const mux = new PsMuxer();
    const dir = await mkdtemp(join(tmpdir(), 'ps-muxer-'));
    try {
      const file = join(dir, 'out.ps');
      await writeFile(file, Buffer.concat(aus.map((a) => mux.mux(a))));
      assert.deepEqual(await ffprobeFrames(file), { codec: probed, width: 640, height: 360, frames: 250 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('PsMuxer.mux() puts pack, system header and PSM before a key frame and only a pack before others', () => {
  const mux = new PsMuxer({ videoCodec: 'h264' });
  const idr = Buffer.from([0, 0, 0, 1, 0x67, 0x64, 0, 0x1f, 0, 0, 0, 1, 0x68, 0xee, 0, 0, 0, 1, 0x65, 0x88, 0x84]);
  const p = Buffer.from([0, 0, 0, 1, 0x41, 0x9a, 0x02]);
  const key = mux.mux({ kind: 'video', codec: 'h264', data: idr, pts: 3600, dts: 3600, key: true });
  assert.deepEqual(startCodesAt(key), [0xba, 0xbb, 0xbc, 0xe0]);
  // pack 14 + system header 12+3 + PSM 16+4 + PES header 14 + data, nothing else
  assert.equal(key.length, 14 + 15 + 20 + 14 + idr.length);
  assert.ok(key.subarray(key.length - idr.length).equals(idr));
  const psm = key.subarray(key.indexOf(Buffer.from([0, 0, 1, 0xbc])));
  assert.equal(psm[12], 0x1b);
  assert.equal(psm[13], 0xe0);
  const delta = mux.mux({ kind: 'video', codec: 'h264', data: p, pts: 7200, dts: 7200, key: false });
  assert.deepEqual(startCodesAt(delta), [0xba, 0xe0]);
  // PES header: PTS only, 33-bit value 7200
  const pes = delta.subarray(14);
  assert.equal(pes[7], 0x80);
  const pts = (((pes[9] >> 1) & 7) * 2 ** 30) + (pes[10] << 22) + ((pes[11] >> 1) << 15) + (pes[12] << 7) + (pes[13] >> 1);
  assert.equal(pts, 7200);
  assert.equal(pes.subarray(14).equals(p), true);
});

test('PsMuxer.mux() splits a frame over 65,000 bytes into several PES, the first one with a PTS', () => {
  const mux = new PsMuxer({ videoCodec: 'h264' });
  const data = Buffer.alloc(150_000, 0x11);
  data.set([0, 0, 0, 1, 0x65], 0);
  const out = mux.mux({ kind: 'video', codec: 'h264', data, pts: 0, dts: 0, key: true });
  const pesStarts: number[] = [];
  for (let i = out.indexOf(Buffer.from([0, 0, 1, 0xe0])); i !== -1; i = out.indexOf(Buffer.from([0, 0, 1, 0xe0]), i + 4)) pesStarts.push(i);
  assert.equal(pesStarts.length, Math.ceil(data.length / MAX_PES_PAYLOAD));
  assert.equal(out[pesStarts[0] + 7], 0x80);
  assert.equal(out[pesStarts[1] + 7], 0x00);
  const payload = Buffer.concat(pesStarts.map((s, i) => out.subarray(s + 9 + out[s + 8], s + 6 + out.readUInt16BE(s + 4))).concat([]));
  assert.equal(payload.equals(data), true);
});

test('PsMuxer.mux() sends audio on stream 0xC0 with its PSM stream type', () => {
  const mux = new PsMuxer();
  const out = mux.mux({ kind: 'audio', codec: 'g711a', data: Buffer.alloc(320, 0xd5), pts: 0, dts: 0, key: true });
  assert.deepEqual(startCodesAt(out), [0xba, 0xbb, 0xbc, 0xc0]);
  const psm = out.subarray(out.indexOf(Buffer.from([0, 0, 1, 0xbc])));
  assert.deepEqual([psm[12], psm[13]], [0x90, 0xc0]);
  const next = mux.mux({ kind: 'audio', codec: 'g711a', data: Buffer.alloc(320, 0xd5), pts: 3600, dts: 3600, key: true });
  assert.deepEqual(startCodesAt(next), [0xba, 0xc0]);
});
