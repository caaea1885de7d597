// Signed plays: one `sign` parameter opens HTTP-FLV, WS-FLV, RTMP and HLS; anything else is refused.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import WebSocket from 'ws';
import { signPlay, verifyPlay } from '../src/play-signature.ts';
import { testEngine, waitFor } from './support/engine.ts';
import { fixtureUnits, gbRtpPackets, sendUdp } from './support/gb-sender.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const SECRET = 'test-play-secret-0123456789';
const now = () => Date.now() / 1000;

/** The video codec ffprobe finds in a live URL (probing only: a live stream never ends). */
async function videoCodec(url: string): Promise<string> {
  const { stdout } = await promisify(execFile)('ffprobe', ['-v', 'error', '-probesize', '32768', '-analyzeduration', '100000', '-select_streams', 'v', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', url], { timeout: 20_000 });
  return stdout.trim().split('\n')[0]!;
}

test('verifyPlay() takes its own signature until it expires, and nothing else', () => {
  const sign = signPlay('/rtp/a1', SECRET, now() + 60);
  assert.equal(verifyPlay('/rtp/a1', sign, SECRET), true);
  assert.equal(verifyPlay('/rtp/a2', sign, SECRET), false, 'another stream');
  assert.equal(verifyPlay('/rtp/a1', sign, 'other-secret-0123456789'), false, 'another secret');
  assert.equal(verifyPlay('/rtp/a1', signPlay('/rtp/a1', SECRET, now() - 1), SECRET), false, 'expired');
  for (const bad of [undefined, null, '', 'x', `${sign}0`, sign.toUpperCase(), `9999999999-${'0'.repeat(32)}`]) {
    assert.equal(verifyPlay('/rtp/a1', bad, SECRET), false, String(bad));
  }
});

test('an engine with a play secret serves FLV, WS-FLV, RTMP and HLS only to signed URLs', async () => {
  const { engine, dataDir } = await testEngine({ playSecret: SECRET, idleTimeoutS: 30 });
  try {
    const stream = await engine.openStream({ streamId: 'signed1', transport: 'udp' });
    await sendUdp(gbRtpPackets((await fixtureUnits('h264')).slice(0, 120)), stream.port);
    await waitFor('a HLS playlist', () => stream.hls.playlist !== null);
    const base = `http://127.0.0.1:${engine.httpPort}/rtp/signed1`;
    const sign = encodeURIComponent(signPlay('/rtp/signed1', SECRET, now() + 600));
    const expired = encodeURIComponent(signPlay('/rtp/signed1', SECRET, now() - 5));

    // HLS: 403 without or with a bad sign; the signed playlist hands its sign on to the segments
    for (const q of ['', `?sign=${expired}`, '?sign=1-2']) assert.equal((await fetch(`${base}/hls.m3u8${q}`)).status, 403, `playlist ${q}`);
    const playlist = await (await fetch(`${base}/hls.m3u8?sign=${sign}`)).text();
    const segment = /^(seg-\d+\.ts\?sign=.+)$/m.exec(playlist)?.[1];
    assert.ok(segment, playlist);
    assert.equal((await fetch(`${base}/${segment}`)).status, 200);
    assert.equal((await fetch(`${base}/${segment.split('?')[0]}`)).status, 403);
    // a player already watching keeps going once its sign expires; a new one does not, nor a forged sign
    assert.equal((await fetch(`${base}/hls.m3u8?sign=${expired}`)).status, 200, 'watching client, expired sign');
    assert.equal((await fetch(`${base}/hls.m3u8?sign=${expired}`, { headers: { 'user-agent': 'another player' } })).status, 403);
    const forged = encodeURIComponent(signPlay('/rtp/signed1', 'not-the-secret-0123456789', now() + 600));
    assert.equal((await fetch(`${base}/hls.m3u8?sign=${forged}`)).status, 403);
    assert.equal(await videoCodec(`${base}/hls.m3u8?sign=${sign}`), 'h264');

    // HTTP-FLV: node-media-server closes an unsigned play without a byte of media
    const unsigned = await fetch(`${base}.flv`);
    assert.equal((await unsigned.arrayBuffer()).byteLength, 0);
    assert.equal(await videoCodec(`${base}.flv?sign=${sign}`), 'h264');
    assert.equal(await videoCodec(`rtmp://127.0.0.1:${engine.rtmpPort}/rtp/signed1?sign=${sign}`), 'h264');
    await assert.rejects(videoCodec(`rtmp://127.0.0.1:${engine.rtmpPort}/rtp/signed1`));

    // WS-FLV: the unsigned socket is closed, the signed one receives the FLV header
    const wsBase = `ws://127.0.0.1:${engine.httpPort}/rtp/signed1.flv`;
    const closedUnsigned = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsBase);
      let bytes = 0;
      ws.on('message', (d: Buffer) => (bytes += d.length));
      ws.on('close', () => resolve(bytes));
      ws.on('error', () => resolve(bytes));
    });
    assert.equal(closedUnsigned, 0);
    const header = await new Promise<Buffer>((resolve, reject) => {
      const ws = new WebSocket(`${wsBase}?sign=${sign}`);
      ws.once('message', (d: Buffer) => {
        resolve(d);
        ws.close();
      });
      ws.once('error', reject);
    });
    assert.equal(header.subarray(0, 3).toString(), 'FLV');
  } finally {
    await engine.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
