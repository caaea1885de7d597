import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtpPacketizer, frameInterleaved, frameRfc4571 } from '../src/rtp-packetizer.ts';
import { parseRtpPacket } from '../src/rtp-packet.ts';

test('RtpPacketizer.packetize() cuts a payload into <= 1400-byte packets with the marker on the last', () => {
  const pz = new RtpPacketizer({ ssrc: 0x12345678, initialSeq: 65534 });
  const payload = Buffer.alloc(3000);
  for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
  const pkts = pz.packetize(payload, 2 ** 32 + 90);
  assert.equal(pkts.length, 3);
  const parsed = pkts.map((p) => parseRtpPacket(p));
  assert.deepEqual(parsed.map((p) => p?.seq), [65534, 65535, 0]);
  assert.deepEqual(parsed.map((p) => p?.marker), [false, false, true]);
  assert.deepEqual(parsed.map((p) => p?.payload.length), [1400, 1400, 200]);
  for (const p of parsed) {
    assert.equal(p?.payloadType, 96);
    assert.equal(p?.ssrc, 0x12345678);
    assert.equal(p?.timestamp, 90);
  }
  assert.equal(Buffer.concat(parsed.map((p) => p!.payload)).equals(payload), true);
  assert.equal(pz.nextSeq, 1);
});

test('RtpPacketizer rejects a bad ssrc with TypeError', () => {
  assert.throws(() => new RtpPacketizer({ ssrc: -1 }), TypeError);
  assert.throws(() => new RtpPacketizer({ ssrc: 2 ** 32 }), TypeError);
});

test('frameRfc4571() prefixes the 2-byte length and frameInterleaved() the $ header', () => {
  const pkt = Buffer.from([0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
  assert.deepEqual([...frameRfc4571(pkt).subarray(0, 3)], [0, 13, 0x80]);
  assert.deepEqual([...frameInterleaved(pkt, 2).subarray(0, 5)], [0x24, 2, 0, 13, 0x80]);
  assert.throws(() => frameRfc4571(Buffer.alloc(70000)), RangeError);
});

test('parseRtpPacket() reads CSRCs, header extensions and padding', () => {
  const pkt = Buffer.from([
    0xb1, 0xe0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 5, // V2 P X CC=1, M, PT 96
    1, 2, 3, 4, // CSRC
    0xbe, 0xde, 0, 1, 9, 9, 9, 9, // extension, 1 word
    0xaa, 0xbb, 0, 2, // payload + 2 bytes padding
  ]);
  const p = parseRtpPacket(pkt);
  assert.ok(p);
  assert.deepEqual([...p.payload], [0xaa, 0xbb]);
  assert.equal(p.marker, true);
  assert.equal(p.seq, 7);
  assert.equal(p.timestamp, 9);
  assert.equal(p.ssrc, 5);
});

test('parseRtpPacket() returns null for wrong version, short packets and bad lengths', () => {
  assert.equal(parseRtpPacket(Buffer.alloc(11, 0x80)), null);
  assert.equal(parseRtpPacket(Buffer.from([0x40, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])), null);
  assert.equal(parseRtpPacket(Buffer.from([0x8f, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])), null); // 15 CSRCs missing
  assert.equal(parseRtpPacket(Buffer.from([0x90, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9])), null); // ext too long
  assert.equal(parseRtpPacket(Buffer.from([0xa0, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 50])), null); // padding too long
  assert.equal(parseRtpPacket(Buffer.from([0xa0, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0])), null); // padding 0
});
