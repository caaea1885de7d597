import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import type { AccessUnit } from '../src/access-unit.ts';
import { TimelineContinuity } from '../src/timeline-continuity.ts';
import { testEngine, waitFor } from './support/engine.ts';
import { fixtureUnits, gbRtpPackets, sendUdp } from './support/gb-sender.ts';

const video = (dts: number, pts = dts): AccessUnit => ({ kind: 'video', codec: 'h264', data: Buffer.alloc(1), dts, pts, key: false });
const audio = (dts: number): AccessUnit => ({ kind: 'audio', codec: 'aac', data: Buffer.alloc(1), dts, pts: dts, key: true });

function run(units: AccessUnit[]): AccessUnit[] {
  const t = new TimelineContinuity();
  for (const u of units) t.apply(u);
  return units;
}

test('TimelineContinuity leaves a steady timeline, trailing audio and B-frame offsets alone', () => {
  const out = run([video(1000, 4600), audio(900), video(4600, 8200), audio(3000), video(8200, 11800)]);
  assert.deepEqual(out.map((u) => [u.dts, u.pts]), [[1000, 4600], [900, 900], [4600, 8200], [3000, 3000], [8200, 11800]]);
});

test('TimelineContinuity continues one frame interval after a jump back or far forward, keeping pts - dts', () => {
  const back = run([video(900_000), video(903_600), video(907_200, 910_800), video(0, 3600), video(3600, 7200), audio(3600)]);
  assert.deepEqual(back.map((u) => u.dts), [900_000, 903_600, 907_200, 910_800, 914_400, 914_400]);
  assert.equal(back[3]!.pts - back[3]!.dts, 3600, 'composition offset kept');
  const forward = run([video(0), video(3600), video(3600 + 60 * 90_000)]);
  assert.deepEqual(forward.map((u) => u.dts), [0, 3600, 7200]);
  const t = new TimelineContinuity();
  for (const u of [video(900_000), video(903_600), video(0), video(3600)]) t.apply(u);
  assert.equal(t.jumps, 1);
});

test('a source whose PS timestamps start over keeps HLS segments coming', async () => {
  const { engine, dataDir } = await testEngine({ idleTimeoutS: 30 });
  try {
    const stream = await engine.openStream({ streamId: 'loop1', transport: 'udp' });
    // 4 s of video (two GOPs) sent twice with the same PES timestamps, RTP numbering continuous:
    // without continuity the second half would never close a segment
    const units = (await fixtureUnits('h264')).slice(0, 100);
    const twice = [...units, ...units.map((u) => ({ ...u }))];
    await sendUdp(gbRtpPackets(twice), stream.port);
    const segments = () => (stream.hls.playlist?.match(/^#EXTINF:/gm) ?? []).length;
    await waitFor('HLS segments from the second pass', () => segments() >= 3);
    const durations = [...(stream.hls.playlist ?? '').matchAll(/^#EXTINF:([\d.]+),/gm)].map((m) => Number(m[1]));
    for (const d of durations) assert.ok(d > 1.5 && d < 2.5, `segment of ${d} s`);
  } finally {
    await engine.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
