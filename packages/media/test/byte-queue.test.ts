import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ByteQueue } from '../src/byte-queue.ts';

/** The same search done the slow, obvious way over the joined bytes. */
function naiveFind(all: Buffer, limit: number, minId: number, maxId: number): number {
  for (let p = 0; p < limit && p + 2 < all.length; p++) {
    if (all[p] !== 0 || all[p + 1] !== 0 || all[p + 2] !== 1) continue;
    if (p + 3 >= all.length) return -1;
    if (all[p + 3]! >= minId && all[p + 3]! <= maxId) return p;
  }
  return -1;
}

function naivePrefix(all: Buffer): number {
  const n = all.length;
  if (n >= 3 && all[n - 3] === 0 && all[n - 2] === 0 && all[n - 1] === 1) return 3;
  if (n >= 2 && all[n - 2] === 0 && all[n - 1] === 0) return 2;
  if (n >= 1 && all[n - 1] === 0) return 1;
  return 0;
}

/** Bytes dense in start codes and zeros, cut into chunks of 1-6 bytes at random. */
function chunkedSample(seed: number): { chunks: Buffer[]; all: Buffer } {
  const alphabet = [0, 0, 0, 1, 0xba, 0xe0, 0x65, 0xb9, 0x7f];
  const bytes = randomBytes(200).map((b) => alphabet[(b + seed) % alphabet.length]!);
  const all = Buffer.from(bytes);
  const chunks: Buffer[] = [];
  for (let o = 0; o < all.length; ) {
    const n = 1 + ((all[o]! + o + seed) % 6);
    chunks.push(all.subarray(o, o + n));
    o += n;
  }
  return { chunks, all };
}

test('ByteQueue.findStartCode() finds what a byte-by-byte search finds, across chunk boundaries and after skips', () => {
  for (let seed = 0; seed < 300; seed++) {
    const { chunks, all } = chunkedSample(seed);
    const q = new ByteQueue();
    for (const c of chunks) q.push(c);
    const skip = seed % 7;
    q.skip(skip);
    const rest = all.subarray(skip);
    for (const [min, max] of [[0xb9, 0xff], [0xba, 0xba], [0, 0xff]] as const) {
      for (const limit of [rest.length, 10, 3]) {
        assert.equal(q.findStartCode(limit, min, max), naiveFind(rest, limit, min, max), `seed ${seed} limit ${limit} ids ${min}-${max}`);
      }
    }
  }
});

test('ByteQueue.startCodePrefixAtEnd() counts the trailing 00 / 00 00 / 00 00 01 that may open a start code', () => {
  for (let seed = 0; seed < 300; seed++) {
    const { chunks, all } = chunkedSample(seed);
    const q = new ByteQueue();
    let queued = Buffer.alloc(0);
    for (const c of chunks) {
      q.push(c);
      queued = Buffer.concat([queued, c]);
      assert.equal(q.startCodePrefixAtEnd(), naivePrefix(queued), `seed ${seed} after ${queued.length} bytes`);
    }
    q.skip(all.length - 1);
    assert.equal(q.startCodePrefixAtEnd(), naivePrefix(all.subarray(-1)), 'one byte left after a skip');
  }
  assert.equal(new ByteQueue().startCodePrefixAtEnd(), 0, 'empty queue');
});

test('ByteQueue.unshift() puts bytes back in front, after part of the first chunk was read', () => {
  const q = new ByteQueue();
  q.push(Buffer.from([1, 2, 3, 4]));
  q.push(Buffer.from([5, 6]));
  q.skip(2);
  q.unshift(Buffer.from([9, 8]));
  q.unshift(Buffer.alloc(0));
  assert.equal(q.length, 6);
  assert.deepEqual([...q.peek(6)], [9, 8, 3, 4, 5, 6]);
  assert.equal(q.findStartCode(6, 0, 0xff), -1);
  const taken: Buffer[] = [];
  q.take(3, taken);
  assert.deepEqual([...Buffer.concat(taken)], [9, 8, 3]);
});
