import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtpTcpFramer } from '../src/rtp-tcp-framer.ts';
import { RtpPacketizer, frameInterleaved, frameRfc4571 } from '../src/rtp-packetizer.ts';
import { seededRandom } from './support/fixtures.ts';

function packets(n: number): Buffer[] {
  const pz = new RtpPacketizer({ ssrc: 1, initialSeq: 0, maxPayload: 1400 });
  const payload = Buffer.alloc(n * 1000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
  return pz.packetize(payload, 0);
}

function frame(stream: Buffer, cut: (i: number) => number): Buffer[] {
  const out: Buffer[] = [];
  const framer = new RtpTcpFramer((p) => out.push(Buffer.from(p)));
  for (let i = 0, k = 0; i < stream.length; k++) {
    const n = cut(k);
    framer.push(stream.subarray(i, i + n));
    i += n;
  }
  return out;
}

test('RtpTcpFramer splits RFC 4571 packets cut at every possible chunk size', () => {
  const pkts = packets(20);
  const stream = Buffer.concat(pkts.map(frameRfc4571));
  for (const size of [1, 2, 3, 5, 13, 1401, 1402, 4096, stream.length]) {
    assert.deepEqual(frame(stream, () => size), pkts, `chunk ${size}`);
  }
  const rand = seededRandom(11);
  assert.deepEqual(frame(stream, () => 1 + Math.floor(rand() * 3000)), pkts);
});

test('RtpTcpFramer accepts $-interleaved packets mixed with RFC 4571 ones', () => {
  const pkts = packets(10);
  const stream = Buffer.concat(pkts.map((p, i) => (i % 3 === 0 ? frameInterleaved(p, 0) : frameRfc4571(p))));
  assert.deepEqual(frame(stream, () => 700), pkts);
});

test('RtpTcpFramer passes interleaved RTCP on channel 1 without losing sync', () => {
  const pkts = packets(6);
  const sr = Buffer.from([0x80, 200, 0, 6, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  const stream = Buffer.concat(pkts.flatMap((p, i) => (i === 2 ? [frameInterleaved(p, 0), frameInterleaved(sr, 1)] : [frameInterleaved(p, 0)])));
  const out: Buffer[] = [];
  const framer = new RtpTcpFramer((p) => out.push(Buffer.from(p)));
  framer.push(stream);
  assert.deepEqual(out, [...pkts.slice(0, 3), sr, ...pkts.slice(3)]);
  assert.equal(framer.stats.resyncs, 0);
});

test('RtpTcpFramer skips garbage between packets and counts one resync per run', () => {
  const pkts = packets(6);
  const garbage = Buffer.from([0, 3, 1, 2, 3, 0x11, 0x22, 0x33, 0, 0]);
  const stream = Buffer.concat([frameRfc4571(pkts[0]), frameRfc4571(pkts[1]), garbage, ...pkts.slice(2).map(frameRfc4571)]);
  const out: Buffer[] = [];
  const framer = new RtpTcpFramer((p) => out.push(Buffer.from(p)));
  framer.push(stream);
  assert.deepEqual(out, pkts);
  assert.equal(framer.stats.resyncs, 1);
  assert.equal(framer.stats.droppedBytes, garbage.length);
});

test('RtpTcpFramer treats an RFC 4571 length starting with 0x24 as a length, not a $', () => {
  const pz = new RtpPacketizer({ ssrc: 1, initialSeq: 0x8080, maxPayload: 0x2410 });
  const [big] = pz.packetize(Buffer.alloc(0x2410 - 12 + 12, 5), 0);
  assert.equal(big.length >> 8, 0x24);
  const out = frame(Buffer.concat([frameRfc4571(big), frameRfc4571(big)]), () => 5000);
  assert.equal(out.length, 2);
  assert.ok(out[0].equals(big));
});
