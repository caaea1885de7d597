import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retainAccessUnit, type AccessUnit } from '../src/access-unit.ts';
import { PsDemuxer } from '../src/ps-demuxer.ts';
import { PsMuxer } from '../src/ps-muxer.ts';
import { interleave, loadAacAccessUnits, loadG711AccessUnits, loadVideoAccessUnits, seededRandom } from './support/fixtures.ts';

const SC = (id: number): Buffer => Buffer.from([0, 0, 1, id]);

/** Demuxes the chunks, and again in transient mode (whose output must be the same). */
function demux(chunks: Buffer[]): { out: AccessUnit[]; d: PsDemuxer } {
  const out: AccessUnit[] = [];
  const d = new PsDemuxer((au) => out.push(au));
  for (const c of chunks) d.input(c);
  d.flush();
  const transient = demuxTransient(chunks);
  assertSame(transient.out, out, 'transient mode');
  assert.deepEqual(transient.d.stats, d.stats, 'transient mode stats');
  return { out, d };
}

/**
 * PsDemuxerOptions.transient, as an ingest worker uses it: every chunk arrives in one reused buffer
 * that is scribbled over after input(), and frames are copied during the callback.
 */
function demuxTransient(chunks: Buffer[]): { out: AccessUnit[]; d: PsDemuxer } {
  const out: AccessUnit[] = [];
  const d = new PsDemuxer((au) => out.push(retainAccessUnit(au)), undefined, { transient: true });
  let reused = Buffer.alloc(0);
  for (const c of chunks) {
    if (reused.length < c.length) reused = Buffer.alloc(2 * c.length);
    c.copy(reused);
    d.input(reused.subarray(0, c.length));
    reused.fill(0xa5);
  }
  d.flush();
  return { out, d };
}

function assertSame(out: AccessUnit[], src: AccessUnit[], what = ''): void {
  assert.equal(out.length, src.length, `${what} count`);
  for (let i = 0; i < src.length; i++) {
    assert.equal(out[i].codec, src[i].codec, `${what} au ${i} codec`);
    assert.equal(out[i].pts, src[i].pts, `${what} au ${i} pts`);
    assert.equal(out[i].key, src[i].key, `${what} au ${i} key`);
    assert.ok(out[i].data.equals(src[i].data), `${what} au ${i} bytes`);
  }
}

/** Cuts a byte stream at random places, like RTP payloads or TCP reads would. */
function randomChunks(buf: Buffer, max: number, seed: number): Buffer[] {
  const rand = seededRandom(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; ) {
    const n = 1 + Math.floor(rand() * max);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Rewrites every unit with start code `id` in a muxed pack through `edit` (null removes it). */
function editUnits(pack: Buffer, id: number, edit: (unit: Buffer) => Buffer | null): Buffer {
  const at = pack.indexOf(SC(id));
  if (at === -1) return pack;
  const end = at + 6 + pack.readUInt16BE(at + 4);
  const replaced = edit(Buffer.from(pack.subarray(at, end)));
  return Buffer.concat([pack.subarray(0, at), ...(replaced ? [replaced] : []), pack.subarray(end)]);
}

test('PsDemuxer returns the same frames whatever the chunk boundaries', async () => {
  const src = await loadVideoAccessUnits({ codec: 'h264' });
  const mux = new PsMuxer();
  const ps = Buffer.concat(src.map((a) => mux.mux(a)));
  for (const [max, seed] of [[7, 1], [1400, 2], [70_000, 3]] as const) assertSame(demux(randomChunks(ps, max, seed)).out, src);
});

test('PsDemuxer reassembles frames larger than 64 KB that span several PES and packets', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 10).map((a, i) => {
    // a big filler NAL (type 12) after the picture makes the frame 150-250 KB
    const filler = Buffer.alloc(150_000 + i * 10_000, 0xff);
    filler.set([0, 0, 0, 1, 0x0c], 0);
    filler[filler.length - 1] = 0x80;
    return { ...a, data: Buffer.concat([a.data, filler]) };
  });
  const mux = new PsMuxer();
  const ps = Buffer.concat(src.map((a) => mux.mux(a)));
  const { out } = demux(randomChunks(ps, 1400, 5));
  assertSame(out, src);
});

test('PsDemuxer detects the codec from the NAL units when there is no PSM', async () => {
  for (const codec of ['h264', 'h265'] as const) {
    const src = (await loadVideoAccessUnits({ codec })).slice(0, 60);
    const mux = new PsMuxer();
    const ps = src.map((a) => editUnits(editUnits(mux.mux(a), 0xbc, () => null), 0xbb, () => null));
    assert.equal(Buffer.concat(ps).indexOf(SC(0xbc)), -1);
    const { out, d } = demux(ps);
    assertSame(out, src);
    assert.equal(d.stats.videoCodec, codec);
  }
});

test('PsDemuxer copes with PSMs whose lengths disagree with their content', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 60);
  const lies: [string, (psm: Buffer) => Buffer][] = [
    ['outer length 8 too long', (p) => (p.writeUInt16BE(p.readUInt16BE(4) + 8, 4), p)],
    ['outer length without the CRC', (p) => (p.writeUInt16BE(p.readUInt16BE(4) - 4, 4), p.subarray(0, p.length - 4))],
    ['elementary_stream_map_length too long', (p) => (p.writeUInt16BE(p.readUInt16BE(10) + 40, 10), p)],
    ['program_stream_info_length too long', (p) => (p.writeUInt16BE(300, 8), p)],
    ['both lengths wrong', (p) => (p.writeUInt16BE(2, 4), p.writeUInt16BE(999, 10), p)],
    ['es_info_length overflowing', (p) => (p.writeUInt16BE(0x4000, 14), p)],
  ];
  // u-law audio: only the PSM can tell it from A-law, so the PSM must have been read
  const audio = (await loadG711AccessUnits({ law: 'u', seconds: 2 })).slice(0, 100);
  for (const [what, lie] of lies) {
    const mux = new PsMuxer({ videoCodec: 'h264', audioCodec: 'g711u' });
    const packs = interleave(src, audio).map((a) => editUnits(mux.mux(a), 0xbc, lie));
    const { out, d } = demux(randomChunks(Buffer.concat(packs), 1400, 9));
    assertSame(out.filter((a) => a.kind === 'video'), src, what);
    assertSame(out.filter((a) => a.kind === 'audio'), audio, what);
    assert.equal(d.stats.videoCodec, 'h264', what);
    assert.equal(d.stats.audioCodec, 'g711u', what);
  }
});

test('PsDemuxer cuts a video PES whose length claims more than it carries at the next start code, losing nothing', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 60);
  const audio = (await loadG711AccessUnits({ law: 'a', seconds: 2 })).slice(0, 100);
  // +2: the PES "ends" inside the next pack header's start code; +3000: a whole audio PES and more
  // are swallowed; 0xFFFF: several packs are
  for (const extra of [1, 2, 3, 100, 3000, 0xffff]) {
    const mux = new PsMuxer({ videoCodec: 'h264', audioCodec: 'g711a' });
    let lied = 0;
    const packs = interleave(src, audio).map((a, i) => {
      const pack = mux.mux(a);
      if (a.kind !== 'video' || i % 5 !== 1) return pack;
      lied++;
      return editUnits(pack, 0xe0, (pes) => (pes.writeUInt16BE(Math.min(0xffff, pes.readUInt16BE(4) + extra), 4), pes));
    });
    for (const chunks of [packs, randomChunks(Buffer.concat(packs), 1400, extra), randomChunks(Buffer.concat(packs), 7, extra)]) {
      const { out, d } = demux(chunks);
      assertSame(out.filter((a) => a.kind === 'video'), src, `+${extra}`);
      assertSame(out.filter((a) => a.kind === 'audio'), audio, `+${extra}`);
      assert.ok(d.stats.resyncs >= lied && lied > 5, `+${extra}: ${d.stats.resyncs} resyncs for ${lied} lies`);
      assert.equal(d.stats.droppedFrames, 0);
    }
  }
});

test('PsDemuxer trusts H.265 NAL units over a PSM that says H.264', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h265' })).slice(0, 30);
  const mux = new PsMuxer();
  const ps = src.map((a) => editUnits(mux.mux(a), 0xbc, (p) => ((p[12] = 0x1b), p)));
  const { out, d } = demux(ps);
  assertSame(out, src);
  assert.equal(d.stats.videoCodec, 'h265');
});

test('PsDemuxer skips private 0xBD, padding 0xBE and pack stuffing bytes', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 60);
  const mux = new PsMuxer();
  const hik = Buffer.concat([SC(0xbd), Buffer.from([0, 8]), Buffer.from('HIKVISIO')]);
  const padding = Buffer.concat([SC(0xbe), Buffer.from([0, 4]), Buffer.alloc(4, 0xff)]);
  const ps = src.map((a) => {
    const pack = mux.mux(a);
    // pack header with 3 stuffing bytes, then private data and padding before the PES
    const header = Buffer.concat([pack.subarray(0, 13), Buffer.from([0xf8 | 3, 0xff, 0xff, 0xff])]);
    const pes = pack.indexOf(SC(0xe0));
    return Buffer.concat([header, pack.subarray(14, pes), hik, padding, pack.subarray(pes), padding]);
  });
  const { out, d } = demux(randomChunks(Buffer.concat(ps), 500, 4));
  assertSame(out, src);
  assert.equal(d.stats.resyncs, 0);
});

test('PsDemuxer reads video PES with length 0 (unbounded) up to the next pack', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 30).filter((a) => a.data.length < 60_000);
  const mux = new PsMuxer();
  const ps = src.map((a) => {
    const pack = Buffer.from(mux.mux(a));
    pack.writeUInt16BE(0, pack.indexOf(SC(0xe0)) + 4);
    return pack;
  });
  assertSame(demux(randomChunks(Buffer.concat(ps), 900, 6)).out, src);
});

test('PsDemuxer recognises AAC by its ADTS syncword when there is no PSM', async () => {
  const src = (await loadAacAccessUnits({ seconds: 2 })).slice(0, 40);
  const mux = new PsMuxer();
  const { out, d } = demux(src.map((a) => editUnits(editUnits(mux.mux(a), 0xbc, () => null), 0xbb, () => null)));
  assertSame(out, src);
  assert.equal(d.stats.audioCodec, 'aac');
});

test('PsDemuxer keeps G.711 bytes identical and emits one audio unit per PES', async () => {
  const src = await loadG711AccessUnits({ law: 'u', seconds: 1 });
  const mux = new PsMuxer();
  const { out, d } = demux(src.map((a) => mux.mux(a)));
  assertSame(out, src);
  assert.equal(d.stats.audioCodec, 'g711u');
});

test('PsDemuxer resynchronises on the next pack header after garbage and counts it', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 20);
  const mux = new PsMuxer();
  const packs = src.map((a) => mux.mux(a));
  const garbage = Buffer.from([0xde, 0xad, 0, 0, 1, 0x05, 0x33]);
  // garbage between frames 9 and 10: frame 9 stays intact (it ended), nothing else lost
  const { out, d } = demux([...packs.slice(0, 10), garbage, ...packs.slice(10)]);
  assertSame(out, src);
  assert.equal(d.stats.resyncs, 1);
});

test('PsDemuxer.discontinuity() drops the cut frame and resumes at the next pack', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 20);
  const mux = new PsMuxer();
  const packs = src.map((a) => mux.mux(a));
  const out: AccessUnit[] = [];
  const d = new PsDemuxer((au) => out.push(au));
  for (let i = 0; i < 20; i++) {
    if (i === 7) {
      d.input(packs[i].subarray(0, 40)); // frame 7 cut short
      d.discontinuity(false);
      continue;
    }
    if (i === 12) d.discontinuity(true); // gap between whole frames: frame 11 is complete
    d.input(packs[i]);
  }
  d.flush();
  assertSame(out, src.filter((_, i) => i !== 7));
  assert.equal(d.stats.droppedFrames, 1);
});

test('PsDemuxer keeps working after flush() when more input follows', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 20);
  const mux = new PsMuxer();
  const packs = src.map((a) => mux.mux(a));
  const out: AccessUnit[] = [];
  const d = new PsDemuxer((au) => out.push(au));
  packs.slice(0, 10).forEach((p) => d.input(p));
  d.flush();
  assert.equal(out.length, 10);
  packs.slice(10).forEach((p) => d.input(p));
  d.flush();
  assertSame(out, src);
});

test('PsDemuxer splits frames by their NAL units when the stream carries no PTS at all', async () => {
  for (const codec of ['h264', 'h265'] as const) {
    const src = await loadVideoAccessUnits({ codec });
    const mux = new PsMuxer();
    const ps = src.map((a) => {
      const pack = Buffer.from(mux.mux(a));
      const pes = pack.indexOf(SC(0xe0));
      pack[pes + 7] = 0; // PTS_DTS_flags 00; the 5 PTS bytes become header stuffing
      pack.fill(0xff, pes + 9, pes + 14);
      return pack;
    });
    const { out } = demux(randomChunks(Buffer.concat(ps), 1400, 12));
    assertSame(out, src, codec); // made-up timestamps are 3600 apart, as the fixture's
  }
});
