import { readFile, rm } from 'node:fs/promises';
import pino from 'pino';
import { PsDemuxer } from '/work/main/packages/media/src/ps-demuxer.ts';
import { NativeHlsSegmenter as HlsSegmenter } from '/work/main/packages/media/src/native-hls-segmenter.ts';
import { FIXTURE_DIR } from '/work/main/packages/media/test/support/fixtures.ts';
import type { AccessUnit } from '/work/main/packages/media/src/access-unit.ts';
const buf = await readFile(FIXTURE_DIR + '/bench-remux-100mb.ps');
const aus: AccessUnit[] = [];
const d = new PsDemuxer((au) => aus.push(au), pino({ level: 'silent' }));
for (let o = 0; o < buf.length; o += 1400) d.input(buf.subarray(o, Math.min(buf.length, o + 1400)));
d.flush();
for (let r = 0; r < 4; r++) {
  const t0 = performance.now();
  const hls = new HlsSegmenter({ dir: '/tmp/b2/hls2', segmentSeconds: 2, playlistSize: 1000, logger: pino({ level: 'silent' }) });
  for (const au of aus) hls.input(au);
  const t1 = performance.now();
  await hls.finish();
  console.log('hls', (t1 - t0).toFixed(0), (performance.now() - t0).toFixed(0), 'ms');
  await rm('/tmp/b2/hls2', { recursive: true, force: true });
}
