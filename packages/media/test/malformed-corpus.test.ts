import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import type { AccessUnit } from '../src/access-unit.ts';
import { PsDemuxer } from '../src/ps-demuxer.ts';
import { PsMuxer } from '../src/ps-muxer.ts';
import { parseRtpPacket } from '../src/rtp-packet.ts';
import { RtpPacketizer, frameRfc4571 } from '../src/rtp-packetizer.ts';
import { RtpPsIngest } from '../src/rtp-ps-ingest.ts';
import { RtpReceiver } from '../src/rtp-receiver.ts';
import { RtpTcpFramer } from '../src/rtp-tcp-framer.ts';
import { loadVideoAccessUnits, seededRandom } from './support/fixtures.ts';

const rand = seededRandom(2024);
const randomBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
const SC = (id: number): number[] => [0, 0, 1, id];

const video = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 100);
/** The good stream fed after each bad input: 100 frames, key frames at 0 and 50. */
function goodPs(): Buffer[] {
  const mux = new PsMuxer();
  return video.map((a) => mux.mux(a));
}
const good = goodPs();
const keyPack = good[0];
const pPack = good[1];

function patched(buf: Buffer, at: number, bytes: number[]): Buffer {
  const b = Buffer.from(buf);
  b.set(bytes, at);
  return b;
}
const pesAt = (b: Buffer): number => b.indexOf(Buffer.from(SC(0xe0)));
const psmAt = (b: Buffer): number => b.indexOf(Buffer.from(SC(0xbc)));
const sysAt = (b: Buffer): number => b.indexOf(Buffer.from(SC(0xbb)));

/** Malformed program-stream inputs: truncated, random, bad lengths, PSM lies. */
const psCorpus: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['one byte', Buffer.from([0])],
  ['start code only', Buffer.from(SC(0xba))],
  ['pack header cut at 10', keyPack.subarray(0, 10)],
  ['key pack cut in the system header', keyPack.subarray(0, sysAt(keyPack) + 8)],
  ['key pack cut in the PSM', keyPack.subarray(0, psmAt(keyPack) + 9)],
  ['key pack cut in the PES header', keyPack.subarray(0, pesAt(keyPack) + 11)],
  ['key pack cut in the payload', keyPack.subarray(0, pesAt(keyPack) + 400)],
  ['random 1 byte', randomBytes(1)],
  ['random 100 bytes', randomBytes(100)],
  ['random 1400 bytes', randomBytes(1400)],
  ['random 70000 bytes', randomBytes(70000)],
  ['random with pack start codes', Buffer.concat([randomBytes(50), Buffer.from(SC(0xba)), randomBytes(50), Buffer.from(SC(0xba)), randomBytes(9)])],
  ['all zeros', Buffer.alloc(5000)],
  ['repeated 00 00 01', Buffer.from(Array.from({ length: 3000 }, (_, i) => (i % 3 === 2 ? 1 : 0)))],
  ['start code below 0xB9', Buffer.from([...SC(0x09), 1, 2, 3])],
  ['pack header with bad marker bits', patched(pPack, 4, [0x00])],
  ['PES length 0xFFFF on a small PES', patched(pPack, pesAt(pPack) + 4, [0xff, 0xff])],
  ['PES length shorter than its header', patched(pPack, pesAt(pPack) + 4, [0, 2])],
  ['PES header_data_length 255', patched(pPack, pesAt(pPack) + 8, [255])],
  ['PES with PTS flag and header length 0', patched(pPack, pesAt(pPack) + 8, [0])],
  ['system header length 0xFFFF', patched(keyPack, sysAt(keyPack) + 4, [0xff, 0xff])],
  ['PSM length 0', patched(keyPack, psmAt(keyPack) + 4, [0, 0])],
  ['PSM length 0xFFFF', patched(keyPack, psmAt(keyPack) + 4, [0xff, 0xff])],
  ['PSM program_stream_info_length 0xFFFF', patched(keyPack, psmAt(keyPack) + 8, [0xff, 0xff])],
  ['PSM elementary_stream_map_length 0xFFFF', patched(keyPack, psmAt(keyPack) + 10, [0xff, 0xff])],
  ['PSM claims SVAC video', patched(keyPack, psmAt(keyPack) + 12, [0x80])],
  ['PSM claims H.265 for H.264', patched(keyPack, psmAt(keyPack) + 12, [0x24])],
  ['PSM claiming an audio stream on E0', patched(keyPack, psmAt(keyPack) + 12, [0x90])],
  ['audio PES of length 0', Buffer.from([...SC(0xba), ...pPack.subarray(4, 14), ...SC(0xc0), 0, 0])],
  ['second video stream 0xE2', Buffer.concat([pPack.subarray(0, 14), patched(pPack.subarray(14), 3, [0xe2])])],
  ['private stream with huge length', Buffer.from([...SC(0xbd), 0xff, 0xff, 1, 2, 3])],
  ['MPEG-1 style PES header', patched(pPack, pesAt(pPack) + 6, [0x0f])],
  ['bytes of a valid pack reversed', Buffer.from(keyPack).reverse()],
];

function lastKeyGopIntact(out: AccessUnit[], label: string): void {
  // frames from the second key frame on must all come out, in order, byte for byte
  const want = video.slice(50);
  const got = out.filter((a) => a.pts >= want[0].pts && a.kind === 'video');
  assert.equal(got.length, want.length, `${label}: frames after garbage`);
  for (let i = 0; i < want.length; i++) assert.ok(got[i].data.equals(want[i].data) && got[i].pts === want[i].pts, `${label}: frame ${i}`);
}

test(`PsDemuxer survives ${psCorpus.length} malformed program streams and still demuxes the next good stream`, () => {
  assert.ok(psCorpus.length >= 30);
  for (const [label, bad] of psCorpus) {
    const out: AccessUnit[] = [];
    const d = new PsDemuxer((au) => out.push(au));
    // whole, then cut into small pieces: the parser must be indifferent to chunking
    for (const pieces of [[bad], Array.from({ length: Math.ceil(bad.length / 7) }, (_, i) => bad.subarray(i * 7, i * 7 + 7))]) {
      for (const p of pieces) assert.doesNotThrow(() => d.input(p), label);
    }
    for (const p of good) d.input(p);
    d.flush();
    lastKeyGopIntact(out, label);
  }
});

test('PsDemuxer never reaches its internal-error path on 300 randomly mutated streams', () => {
  const errors: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });
  const mrand = seededRandom(77);
  const base = Buffer.concat(good.slice(0, 12));
  let frames = 0;
  for (let n = 0; n < 300; n++) {
    const b = Buffer.from(base);
    const edits = 1 + Math.floor(mrand() * 8);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(mrand() * b.length);
      const kind = mrand();
      if (kind < 0.6) b[at] = Math.floor(mrand() * 256);
      else if (kind < 0.8) b.fill(0, at, Math.min(b.length, at + Math.floor(mrand() * 64)));
      else b.copy(b, at, Math.floor(mrand() * b.length), Math.floor(mrand() * b.length));
    }
    const cut = mrand() < 0.3 ? b.subarray(0, Math.floor(mrand() * b.length)) : b;
    const d = new PsDemuxer(() => frames++, logger);
    for (let i = 0; i < cut.length; i += 1 + Math.floor(mrand() * 1500)) d.input(cut.subarray(i, i + 1500));
    d.flush();
  }
  assert.deepEqual(errors, []);
  assert.ok(frames > 0);
});

/** Malformed RTP datagrams. */
function rtpHeader(b0: number, b1: number, extra: number[]): Buffer {
  return Buffer.from([b0, b1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, ...extra]);
}
const rtpCorpus: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['11 bytes', Buffer.alloc(11, 0x80)],
  ['version 0', rtpHeader(0x00, 96, [1, 2])],
  ['version 1', rtpHeader(0x40, 96, [1, 2])],
  ['version 3', rtpHeader(0xc0, 96, [1, 2])],
  ['CSRC count past the end', rtpHeader(0x8f, 96, [1, 2, 3, 4])],
  ['extension header cut', rtpHeader(0x90, 96, [0xbe])],
  ['extension length past the end', rtpHeader(0x90, 96, [0xbe, 0xde, 0xff, 0xff])],
  ['padding count 0', rtpHeader(0xa0, 96, [1, 0])],
  ['padding past the payload', rtpHeader(0xa0, 96, [1, 200])],
  ['RTCP sender report', Buffer.from([0x80, 200, 0, 6, ...randomBytes(24)])],
  ['random 1400 bytes', randomBytes(1400)],
  ['valid header, random payload', Buffer.concat([rtpHeader(0x80, 96, []), randomBytes(1000)])],
];

test(`parseRtpPacket() returns null or a packet for ${rtpCorpus.length} malformed datagrams, never throws`, () => {
  for (const [label, bad] of rtpCorpus) {
    const p = parseRtpPacket(bad);
    if (label.startsWith('valid') || label === 'random 1400 bytes' || label === 'RTCP sender report') continue;
    assert.equal(p, null, label);
  }
});

function goodRtp(initialSeq: number): Buffer[] {
  const pz = new RtpPacketizer({ ssrc: 0, initialSeq });
  return good.flatMap((p, i) => pz.packetize(p, video[i].pts));
}

test('RtpPsIngest survives random-payload packets, sequence chaos and duplicates, then demuxes a good stream', () => {
  const out: AccessUnit[] = [];
  const ingest = new RtpPsIngest({ onAccessUnit: (au) => out.push(au), reorderWindow: 16 });
  const chaos: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    const seq = i % 3 === 0 ? Math.floor(rand() * 65536) : 5; // jumps and a stuck sequence number
    chaos.push(Buffer.concat([Buffer.from([0x80, 96, seq >> 8, seq & 0xff, 0, 0, 0, 0, 0, 0, 0, 0]), randomBytes(Math.floor(rand() * 1400))]));
  }
  for (const [, bad] of psCorpus) chaos.push(Buffer.concat([Buffer.from([0x80, 96, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0]), bad.subarray(0, 1400)]));
  for (const b of chaos) {
    const p = parseRtpPacket(b);
    if (p) assert.doesNotThrow(() => ingest.input(p));
  }
  for (const b of goodRtp(30000)) ingest.input(parseRtpPacket(b)!);
  ingest.flush();
  lastKeyGopIntact(out, 'rtp chaos');
});

test('RtpTcpFramer and RtpReceiver (UDP and TCP) survive the corpus and still deliver the good stream', async () => {
  // framer on its own: garbage of every kind, then the good stream
  const framed: Buffer[] = [];
  const framer = new RtpTcpFramer((p) => framed.push(p));
  for (const [, bad] of [...psCorpus, ...rtpCorpus]) assert.doesNotThrow(() => framer.push(bad));
  framer.push(Buffer.from([0, 0])); // a zero length
  const goodPkts = goodRtp(100);
  // the framer may have swallowed part of the first good packets while resynchronising
  for (const p of goodPkts) framer.push(frameRfc4571(p));
  const tail = framed.slice(-goodPkts.length + 5);
  assert.ok(tail.every((p, i) => p.equals(goodPkts[goodPkts.length - tail.length + i])));

  for (const transport of ['udp', 'tcp-passive'] as const) {
    const rx = await RtpReceiver.open({ transport, bindIp: '127.0.0.1', port: 0 });
    const out: AccessUnit[] = [];
    const ingest = new RtpPsIngest({ onAccessUnit: (au) => out.push(au) });
    rx.on('packet', (p) => ingest.input(p));
    const bad = [...rtpCorpus.map((c) => c[1]), ...psCorpus.map((c) => c[1].subarray(0, 1400))].filter((b) => b.length > 0);
    const goodPkts2 = goodRtp(7);
    try {
      if (transport === 'udp') {
        const tx = dgram.createSocket('udp4');
        // the first datagram binds the source: send a valid packet of the good stream's sender first
        for (const b of bad) tx.send(b, rx.port, '127.0.0.1');
        await sleep(50);
        for (let i = 0; i < goodPkts2.length; i++) {
          tx.send(goodPkts2[i], rx.port, '127.0.0.1');
          if (i % 8 === 7) await sleep(1);
        }
        const until = Date.now() + 20_000;
        while (rx.stats.packets < goodPkts2.length && Date.now() < until) await sleep(10);
        tx.close();
      } else {
        const sock = net.connect({ host: '127.0.0.1', port: rx.port });
        sock.on('error', () => {});
        await new Promise((r) => sock.once('connect', r));
        for (const b of bad) sock.write(b);
        sock.write(Buffer.from([0, 0, 0, 0]));
        for (const p of goodPkts2) sock.write(frameRfc4571(p));
        const until = Date.now() + 20_000;
        // frame 98 comes out when frame 99's PES begins: everything before it has arrived
        while (!out.some((a) => a.pts === video[98].pts) && Date.now() < until) await sleep(10);
        sock.destroy();
      }
      ingest.flush();
      lastKeyGopIntact(out, `receiver ${transport}`);
    } finally {
      await rx.close();
    }
  }
});
