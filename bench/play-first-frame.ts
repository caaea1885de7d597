// Benchmark (not a test): on loopback, the time from the first PS frame leaving a simulated camera
// (RTP over UDP / TCP) to the first video frame tag an HTTP-FLV viewer receives, through the real
// media engine (receiver -> reorderer -> PS demuxer -> FLV -> node-media-server).
//   node --import tsx bench/play-first-frame.ts [rounds=10]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { MediaEngine, splitAnnexBAccessUnits } from '@gb28181/media';
import { MediaSender } from '../packages/gb-sim/src/media-sender.ts';
import { ensureFixture } from '../packages/media/test/support/fixtures.ts';

const rounds = Number(process.argv[2] ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'gb-bench-ff-'));
const engine = await MediaEngine.create({ bindIp: '127.0.0.1', rtpPorts: [36000, 36099], httpPort: 0, rtmpPort: null, dataDir: dir });
const file = await ensureFixture({ codec: 'h264', seconds: 4, fps: 25, gop: 25, width: 640, height: 360 });
const aus = splitAnnexBAccessUnits(readFileSync(file), 'h264', 25);

/** Resolves with the arrival time of the first FLV video tag carrying a frame (not the sequence header). */
async function firstFrameTag(url: string, ac: AbortController): Promise<number> {
  const res = await fetch(url, { signal: ac.signal });
  let buf = Buffer.alloc(0);
  let off = 13; // FLV header + PreviousTagSize0
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= off + 11) {
      const type = buf[off]!;
      const size = buf.readUIntBE(off + 1, 3);
      if (buf.length < off + 11 + size + 4) break;
      const body = buf.subarray(off + 11, off + 11 + size);
      // legacy AVC: byte 1 = AVCPacketType (1 = NALUs); enhanced: low nibble of byte 0 = packet type (1 = coded frames)
      const isFrame = type === 9 && size > 5 && ((body[0]! & 0x80) === 0 ? body[1] === 1 : (body[0]! & 0x0f) === 1 || (body[0]! & 0x0f) === 3);
      if (isFrame) return performance.now();
      off += 11 + size + 4;
    }
  }
  throw new Error('FLV ended before a frame');
}

for (const transport of ['udp', 'tcp-passive'] as const) {
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const streamId = `bench${transport.replace('-', '')}${i}`;
    const stream = await engine.openStream({ streamId, transport, expectedSsrc: 200000001 });
    const ac = new AbortController();
    const viewer = firstFrameTag(`http://127.0.0.1:${engine.httpPort}/rtp/${streamId}.flv`, ac);
    await new Promise((r) => setTimeout(r, 100)); // the viewer is attached before the camera sends
    const sender = await MediaSender.prepare({
      accessUnits: aus, fps: 25, ssrc: 200000001, transport: transport === 'udp' ? 'udp' : 'tcp-passive',
      remote: { host: '127.0.0.1', port: stream.port }, bindHost: '127.0.0.1', loop: true, logger: pino({ level: 'silent' }),
    });
    const t0 = performance.now();
    await sender.start();
    const t1 = await viewer;
    ms.push(t1 - t0);
    ac.abort();
    await sender.close();
    await stream.close('bench');
  }
  ms.sort((a, b) => a - b);
  const p = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(1);
  console.log(`${transport.padEnd(12)} first PS frame sent -> first FLV frame tag received, ${rounds} streams: p50 ${p(0.5)} ms, p90 ${p(0.9)} ms, max ${p(1)} ms`);
}
await engine.close();
rmSync(dir, { recursive: true, force: true });
