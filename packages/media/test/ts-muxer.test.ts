import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TsMuxer, VIDEO_PID, AUDIO_PID } from '../src/ts-muxer.ts';
import { crc32Mpeg } from '../src/ps-muxer.ts';

interface Parsed {
  pid: number;
  pusi: boolean;
  cc: number;
  pcr?: number;
  randomAccess: boolean;
  payload: Buffer;
}

/** An independent reading of TS packets (ISO 13818-1 2.4.3.2/2.4.3.4). */
function parsePackets(buf: Buffer): Parsed[] {
  assert.equal(buf.length % 188, 0, 'whole TS packets');
  const out: Parsed[] = [];
  for (let p = 0; p < buf.length; p += 188) {
    assert.equal(buf[p], 0x47, `sync byte at ${p}`);
    const pid = ((buf[p + 1]! & 0x1f) << 8) | buf[p + 2]!;
    const afc = (buf[p + 3]! >> 4) & 3;
    let off = p + 4;
    let pcr: number | undefined;
    let randomAccess = false;
    if (afc & 2) {
      const len = buf[p + 4]!;
      if (len > 0) {
        const flags = buf[p + 5]!;
        randomAccess = (flags & 0x40) !== 0;
        if (flags & 0x10) pcr = buf.readUInt32BE(p + 6) * 2 + (buf[p + 10]! >> 7);
      }
      off = p + 5 + len;
    }
    out.push({ pid, pusi: (buf[p + 1]! & 0x40) !== 0, cc: buf[p + 3]! & 0xf, pcr, randomAccess, payload: buf.subarray(off, p + 188) });
  }
  return out;
}

function readPts(b: Buffer, o: number): number {
  return (((b[o]! >> 1) & 7) * 2 ** 30) + ((b[o + 1]! << 22) | ((b[o + 2]! >> 1) << 15) | (b[o + 3]! << 7) | (b[o + 4]! >> 1));
}

test('TsMuxer.tables() writes a PAT and a PMT whose CRCs check and which list the video and audio PIDs', () => {
  const ts = new TsMuxer({ video: 'h265', audio: true });
  const [pat, pmt] = parsePackets(ts.tables());
  assert.equal(pat!.pid, 0);
  assert.equal(pmt!.pid, 0x1000);
  for (const t of [pat!, pmt!]) {
    const len = ((t.payload[2]! & 0x0f) << 8) | t.payload[3]!;
    assert.equal(crc32Mpeg(t.payload, 1, 4 + len), 0, 'CRC over section + CRC is zero');
  }
  const pmtBody = pmt!.payload.subarray(1);
  assert.deepEqual([...pmtBody.subarray(12, 22)], [0x24, 0xe1, 0x00, 0xf0, 0x00, 0x0f, 0xe1, 0x01, 0xf0, 0x00]);
});

test('TsMuxer.video() splits a 200 kB key frame into PES packets that reassemble byte for byte, with PCR and AUD', () => {
  const ts = new TsMuxer({ video: 'h264', audio: false });
  const frame = Buffer.concat([Buffer.from([0, 0, 0, 1, 0x65]), randomBytes(200_000)]);
  const packets = parsePackets(ts.video(frame, 126000 + 3600, 126000, true));
  assert.ok(packets.every((p) => p.pid === VIDEO_PID));
  assert.ok(packets[0]!.pusi && packets.slice(1).every((p) => !p.pusi));
  packets.forEach((p, i) => assert.equal(p.cc, i & 0xf, 'continuity counter counts up'));
  assert.equal(packets[0]!.pcr, 126000 - 9000);
  assert.equal(packets[0]!.randomAccess, true);
  const pes = Buffer.concat(packets.map((p) => p.payload));
  assert.equal(pes.readUInt32BE(0), 0x1e0);
  assert.equal(pes.readUInt16BE(4), 0, 'unbounded PES length above 64 kB');
  assert.equal(pes[7], 0xc0, 'PTS and DTS');
  assert.equal(readPts(pes, 9), 129600);
  assert.equal(readPts(pes, 14), 126000);
  const es = pes.subarray(9 + pes[8]!);
  assert.deepEqual([...es.subarray(0, 6)], [0, 0, 0, 1, 0x09, 0xf0], 'access unit delimiter first');
  assert.ok(es.subarray(6).equals(frame));
});

test('TsMuxer.audio() stuffs a small frame into one packet and keeps counters per PID', () => {
  const ts = new TsMuxer({ video: 'h264', audio: true });
  const adts = randomBytes(300);
  const a = parsePackets(ts.audio(adts, 200000));
  const b = parsePackets(ts.audio(adts.subarray(0, 20), 202000));
  assert.equal(a.length, 2);
  assert.equal(b.length, 1);
  assert.deepEqual([...a, ...b].map((p) => [p.pid, p.cc]), [[AUDIO_PID, 0], [AUDIO_PID, 1], [AUDIO_PID, 2]]);
  const pes = Buffer.concat(a.map((p) => p.payload));
  assert.equal(pes.readUInt16BE(4), 8 + 300, 'bounded PES length for audio');
  assert.ok(pes.subarray(14).equals(adts));
  assert.ok(b[0]!.payload.subarray(14).equals(adts.subarray(0, 20)));
});

test('TsMuxer wraps timestamps at 33 bits instead of corrupting them', () => {
  const ts = new TsMuxer({ video: 'h264', audio: true });
  const pes = Buffer.concat(parsePackets(ts.audio(Buffer.alloc(10), 2 ** 33 + 1234)).map((p) => p.payload));
  assert.equal(readPts(pes, 9), 1234);
});
