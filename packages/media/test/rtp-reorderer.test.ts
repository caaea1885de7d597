import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RtpPacket } from '../src/rtp-packet.ts';
import { RtpReorderer } from '../src/rtp-reorderer.ts';

const pkt = (seq: number): RtpPacket => ({ seq: seq & 0xffff, ssrc: 1, timestamp: 0, marker: false, payloadType: 96, payload: Buffer.alloc(0) });

function run(seqs: number[], window = 4): { got: [number, number][]; r: RtpReorderer } {
  const got: [number, number][] = [];
  const r = new RtpReorderer({ window, onPacket: (p, lost) => got.push([p.seq, lost]) });
  for (const s of seqs) r.input(pkt(s));
  r.flush();
  return { got, r };
}

test('RtpReorderer puts swapped packets back in order across the 16-bit wrap', () => {
  const { got, r } = run([65533, 65535, 65534, 1, 0, 2, 3]);
  assert.deepEqual(got.map((g) => g[0]), [65533, 65534, 65535, 0, 1, 2, 3]);
  assert.equal(r.stats.lost, 0);
});

test('RtpReorderer gives up a gap once the window is full and reports it on the next packet', () => {
  const { got, r } = run([1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12], 3);
  assert.deepEqual(got, [[1, 0], [2, 0], [3, 0], [4, 0], [5, 0], [7, 1], [8, 0], [9, 0], [10, 0], [11, 0], [12, 0]]);
  assert.equal(r.stats.lost, 1);
});

test('RtpReorderer drops duplicates and packets older than a given-up gap', () => {
  const { got, r } = run([1, 2, 3, 4, 5, 6, 6, 9, 10, 11, 12, 13, 7], 3);
  assert.deepEqual(got.map((g) => g[0]), [1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13]);
  assert.equal(r.stats.lateOrDuplicate, 2);
  assert.equal(r.stats.lost, 2);
});

test('RtpReorderer follows a sender that restarts its sequence numbers', () => {
  const seqs = [...Array(20).keys()].map((i) => 40000 + i).concat([...Array(20).keys()].map((i) => 100 + i));
  const { got, r } = run(seqs, 4);
  assert.equal(got.length, 40);
  assert.deepEqual(got.slice(20).map((g) => g[0]), [...Array(20).keys()].map((i) => 100 + i));
  assert.equal(r.stats.resets, 1);
});

test('RtpReorderer gives up a gap after maxDelayMs even when the window is not full', () => {
  let now = 1000;
  const got: [number, number][] = [];
  const r = new RtpReorderer({ window: 100, maxDelayMs: 200, now: () => now, onPacket: (p, lost) => got.push([p.seq, lost]) });
  for (const s of [1, 2, 3, 4, 5, 6, 7, 8]) r.input(pkt(s));
  r.input(pkt(10));
  now += 100;
  r.input(pkt(11));
  assert.deepEqual(got.map((g) => g[0]), [1, 2, 3, 4, 5, 6, 7, 8]);
  now += 150;
  r.input(pkt(12));
  assert.deepEqual(got.slice(8), [[10, 1], [11, 0], [12, 0]]);
  assert.equal(r.stats.lost, 1);
});
