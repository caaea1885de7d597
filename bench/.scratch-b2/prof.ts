import { readFile } from 'node:fs/promises';
import pino from 'pino';
import { PsDemuxer } from '/work/main/packages/media/src/ps-demuxer.ts';
import { FlvMuxer, encodeFlvTag } from '/work/main/packages/media/src/flv-muxer.ts';
import { FIXTURE_DIR } from '/work/main/packages/media/test/support/fixtures.ts';
const buf = await readFile(FIXTURE_DIR + '/bench-remux-100mb.ps');
const logger = pino({ level: 'silent' });
for (const mode of ['demux', 'demux+flv', 'demux', 'demux+flv']) {
  const t0 = performance.now();
  let n = 0;
  const flv = new FlvMuxer({ onTag: (t) => { n += encodeFlvTag(t).length; } });
  const d = new PsDemuxer((au) => { if (mode !== 'demux') flv.input(au); }, logger);
  for (let o = 0; o < buf.length; o += 1400) d.input(buf.subarray(o, Math.min(buf.length, o + 1400)));
  d.flush();
  console.log(mode, (performance.now() - t0).toFixed(0), 'ms', n);
}
