import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { fixtureUnits, gbRtpPackets, reorder, sendTcp, sendUdp } from './support/gb-sender.ts';
import { nextEvent, testEngine, waitFor } from './support/engine.ts';
import { ffprobeStreams, libavStreams } from './support/probe.ts';

// One engine for the file: node-media-server is one per process.
const { engine, dataDir } = await testEngine();
after(async () => {
  await engine.close();
  await rm(dataDir, { recursive: true, force: true });
});
const http = `http://127.0.0.1:${engine.httpPort}`;

test('H.264 + AAC over UDP with reordering reaches HTTP-FLV, RTMP and HLS readers as all 250 frames', async () => {
  const stream = await engine.openStream({ streamId: 'e2e264', transport: 'udp' });
  const units = await fixtureUnits('h264', true);
  const audioFrames = units.filter((u) => u.kind === 'audio').length;
  const flv = ffprobeStreams(`${http}/rtp/e2e264.flv`);
  const rtmp = ffprobeStreams(`rtmp://127.0.0.1:${engine.rtmpPort}/rtp/e2e264`);
  await waitFor('two players', () => stream.stats().viewers === 2);
  assert.deepEqual(stream.stats().viewersByProtocol, { rtmp: 1, flv: 1, hls: 0 });

  const firstKey = nextEvent(stream, 'firstKeyFrame');
  const idle = nextEvent(stream, 'timeout');
  await sendUdp(reorder(gbRtpPackets(units), 7), stream.port);
  await firstKey;
  assert.deepEqual(await idle, [{ reason: 'idle' }]);

  // the idle source ended the playlist (#EXT-X-ENDLIST), so ffprobe reads it whole
  const hls = await ffprobeStreams(`${http}/rtp/e2e264/hls.m3u8`);
  assert.deepEqual(hls.find((s) => s.codec === 'h264'), { codec: 'h264', width: 640, height: 360, frames: 250 });
  const hlsAac = hls.find((s) => s.codec === 'aac');
  assert.ok(hlsAac && Math.abs(hlsAac.frames - audioFrames) <= 2, `HLS aac ${hlsAac?.frames} of ${audioFrames}`);

  const stats = stream.stats();
  assert.equal(stats.lost, 0);
  assert.equal(stats.firstPacketFrom?.startsWith('127.0.0.1:'), true);
  assert.deepEqual(stats.video, { codec: 'h264', width: 640, height: 360 });
  assert.deepEqual(stats.audio, { codec: 'aac' });

  await stream.close('test done');
  const [flvStreams, rtmpStreams] = await Promise.all([flv, rtmp]);
  assert.deepEqual(flvStreams.find((s) => s.codec === 'h264'), { codec: 'h264', width: 640, height: 360, frames: 250 });
  assert.equal(flvStreams.find((s) => s.codec === 'aac')?.frames, audioFrames);
  assert.equal(rtmpStreams.find((s) => s.codec === 'h264')?.frames, 250);
  await assert.rejects(stat(join(dataDir, 'hls', 'e2e264')), 'closing a stream removes its HLS directory');
  assert.equal(engine.stream('e2e264'), undefined);
});

test('H.265 over TCP (RFC 4571) reaches HTTP-FLV as enhanced FLV and HLS as all 250 frames', async () => {
  const stream = await engine.openStream({ streamId: 'e2e265', transport: 'tcp-passive' });
  const flv = libavStreams(`${http}/rtp/e2e265.flv`);
  await waitFor('the FLV player', () => stream.stats().viewers === 1);
  const idle = nextEvent(stream, 'timeout');
  await sendTcp(gbRtpPackets(await fixtureUnits('h265')), stream.port);
  await idle;
  const [hls] = await ffprobeStreams(`${http}/rtp/e2e265/hls.m3u8`);
  assert.deepEqual(hls, { codec: 'hevc', width: 640, height: 360, frames: 250 });
  assert.deepEqual(stream.stats().video, { codec: 'h265', width: 640, height: 360 });
  await stream.close('test done');
  const [v] = await flv;
  assert.deepEqual(v, { codec: 'hevc', width: 640, height: 360, frames: 250 });
});

test('H.264 over UDP with 1% loss keeps the stream alive and counts the loss', async () => {
  const stream = await engine.openStream({ streamId: 'e2eloss', transport: 'udp' });
  const packets = gbRtpPackets(await fixtureUnits('h264'));
  const kept = packets.filter((_, i) => i % 100 !== 50);
  const idle = nextEvent(stream, 'timeout');
  await sendUdp(kept, stream.port);
  await idle;
  const stats = stream.stats();
  assert.equal(stats.lost, packets.length - kept.length);
  assert.ok(stats.frames > 200 && stats.frames < 250, `frames ${stats.frames}`);
  const [hls] = await ffprobeStreams(`${http}/rtp/e2eloss/hls.m3u8`);
  assert.equal(hls?.codec, 'h264');
  assert.ok(hls!.frames > 200, `HLS frames ${hls?.frames}`);
  await stream.close('test done');
});
