import { readFile, rm } from 'node:fs/promises';
import pino from 'pino';
import { EncodedPacket, EncodedVideoPacketSource, MpegTsOutputFormat, NullTarget, Output, HlsOutputFormat, PathedTarget, FilePathTarget, BufferTarget } from 'mediabunny';
import { PsDemuxer } from '/work/main/packages/media/src/ps-demuxer.ts';
import { FIXTURE_DIR } from '/work/main/packages/media/test/support/fixtures.ts';
import type { AccessUnit } from '/work/main/packages/media/src/access-unit.ts';
const buf = await readFile(FIXTURE_DIR + '/bench-remux-100mb.ps');
const aus: AccessUnit[] = [];
const d = new PsDemuxer((au) => aus.push(au), pino({ level: 'silent' }));
for (let o = 0; o < buf.length; o += 1400) d.input(buf.subarray(o, Math.min(buf.length, o + 1400)));
d.flush();
console.log('aus', aus.length);
for (const mode of ['ts-null', 'ts-buffer', 'hls-null', 'hls-file', 'ts-null']) {
  const t0 = performance.now();
  const target = mode === 'ts-null' ? new NullTarget() : mode === 'ts-buffer' ? new BufferTarget() : new PathedTarget('/tmp/b2/hls/master.m3u8', (r) => mode === 'hls-null' ? new NullTarget() : new FilePathTarget(r.path));
  const format = mode.startsWith('ts') ? new MpegTsOutputFormat() : new HlsOutputFormat({ segmentFormat: new MpegTsOutputFormat(), live: true, maxLiveSegmentCount: 1000 });
  const out = new Output({ format, target: target as any });
  const src = new EncodedVideoPacketSource('avc');
  out.addVideoTrack(src, { frameRate: 25 });
  await out.start();
  let first = true;
  for (const au of aus) {
    await src.add(new EncodedPacket(au.data, au.key ? 'key' : 'delta', au.pts / 90000, 0.04), first ? { decoderConfig: { codec: 'avc1.42c01f', codedWidth: 1280, codedHeight: 720 } } : undefined);
    first = false;
  }
  await out.finalize();
  console.log(mode, (performance.now() - t0).toFixed(0), 'ms');
}
await rm('/tmp/b2/hls', { recursive: true, force: true });
