import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AccessUnit } from '../src/access-unit.ts';
import { parseRtpPacket } from '../src/rtp-packet.ts';
import { RtpPsIngest } from '../src/rtp-ps-ingest.ts';
import { interleave, loadAacAccessUnits, loadG711AccessUnits, loadVideoAccessUnits, seededRandom, shuffleWithin, toRtpPackets } from './support/fixtures.ts';

function runIngest(packets: Buffer[], reorderWindow?: number): { out: AccessUnit[]; ingest: RtpPsIngest } {
  const out: AccessUnit[] = [];
  const ingest = new RtpPsIngest({ onAccessUnit: (au) => out.push(au), reorderWindow });
  for (const b of packets) {
    const p = parseRtpPacket(b);
    assert.ok(p);
    ingest.input(p);
  }
  ingest.flush();
  return { out, ingest };
}

function assertSameAccessUnits(out: AccessUnit[], src: AccessUnit[]): void {
  assert.equal(out.length, src.length);
  for (let i = 0; i < src.length; i++) {
    assert.equal(out[i].kind, src[i].kind, `au ${i} kind`);
    assert.equal(out[i].codec, src[i].codec, `au ${i} codec`);
    assert.equal(out[i].pts, src[i].pts, `au ${i} pts`);
    assert.equal(out[i].dts, src[i].dts, `au ${i} dts`);
    assert.equal(out[i].key, src[i].key, `au ${i} key`);
    assert.ok(out[i].data.equals(src[i].data), `au ${i} bytes`);
  }
}

test('RtpPsIngest gives back all 250 H.264 access units byte for byte', async () => {
  const src = await loadVideoAccessUnits({ codec: 'h264' });
  const { out, ingest } = runIngest(toRtpPackets(src, { initialSeq: 65000 }).flat());
  assertSameAccessUnits(out, src);
  assert.equal(ingest.stats.videoCodec, 'h264');
  assert.equal(ingest.stats.lost, 0);
  assert.equal(ingest.stats.resyncs, 0);
  assert.equal(ingest.stats.frames, 250);
  assert.equal(ingest.stats.videoFrames, 250);
  assert.equal(ingest.stats.droppedFrames, 0);
});

test('RtpPsIngest gives back all 250 H.265 access units byte for byte', async () => {
  const src = await loadVideoAccessUnits({ codec: 'h265' });
  const { out, ingest } = runIngest(toRtpPackets(src).flat());
  assertSameAccessUnits(out, src);
  assert.equal(ingest.stats.videoCodec, 'h265');
});

test('RtpPsIngest loses nothing when packets are reordered within the window', async () => {
  const src = await loadVideoAccessUnits({ codec: 'h264' });
  const packets = shuffleWithin(toRtpPackets(src, { initialSeq: 65500 }).flat(), 20, seededRandom(7));
  const { out, ingest } = runIngest(packets, 32);
  assertSameAccessUnits(out, src);
  assert.equal(ingest.stats.lost, 0);
});

test('RtpPsIngest loses only the frames whose packets were dropped, and the rest is intact', async () => {
  const src = await loadVideoAccessUnits({ codec: 'h264' });
  const perFrame = toRtpPackets(src);
  const rand = seededRandom(42);
  const affected = new Set<number>();
  const sent: Buffer[] = [];
  perFrame.forEach((pkts, frame) => {
    for (const p of pkts) {
      // ~3 % loss, never two in a row so every gap is one frame's worth
      if (rand() < 0.03 && frame > 0) affected.add(frame);
      else sent.push(p);
    }
  });
  assert.ok(affected.size >= 5, `only ${affected.size} frames hit`);
  const { out, ingest } = runIngest(shuffleWithin(sent, 8, seededRandom(3)), 32);
  const expected = src.filter((_, i) => !affected.has(i));
  assertSameAccessUnits(out, expected);
  assert.ok(ingest.stats.lost >= affected.size);
  assert.ok(ingest.stats.droppedFrames <= affected.size);
});

test('RtpPsIngest passes G.711 A-law and mu-law bytes through unchanged', async () => {
  for (const law of ['a', 'u'] as const) {
    const src = await loadG711AccessUnits({ law, seconds: 2 });
    const { out, ingest } = runIngest(toRtpPackets(src).flat());
    assert.equal(ingest.stats.audioCodec, law === 'a' ? 'g711a' : 'g711u');
    assertSameAccessUnits(out, src);
    assert.ok(Buffer.concat(out.map((a) => a.data)).equals(Buffer.concat(src.map((a) => a.data))));
  }
});

test('RtpPsIngest gives back AAC frames interleaved with H.264 video', async () => {
  const video = await loadVideoAccessUnits({ codec: 'h264' });
  const aac = await loadAacAccessUnits({ seconds: 10 });
  const src = interleave(video, aac);
  const { out, ingest } = runIngest(toRtpPackets(src).flat());
  // Video frames come out when the next video PES starts, so compare each track on its own.
  assertSameAccessUnits(out.filter((a) => a.kind === 'video'), video);
  assertSameAccessUnits(out.filter((a) => a.kind === 'audio'), aac);
  assert.equal(ingest.stats.videoFrames, video.length);
  assert.equal(ingest.stats.audioFrames, aac.length);
  assert.equal(ingest.stats.audioCodec, 'aac');
  assert.equal(ingest.stats.videoCodec, 'h264');
});

test('RtpPsIngest unwraps the 33-bit PTS across its wrap', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 60).map((a, i) => {
    const ts = 2 ** 33 - 30 * 3600 + i * 3600;
    return { ...a, pts: ts, dts: ts };
  });
  const { out } = runIngest(toRtpPackets(src).flat());
  assert.equal(out.length, 60);
  const sent = src.map((a) => a.pts % 2 ** 33);
  const base = out[0].pts;
  assert.equal(base, sent[0]);
  assert.deepEqual(out.map((a) => a.pts - base), src.map((a) => a.pts - src[0].pts));
});
