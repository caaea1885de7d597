import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecyclingSlabs, SlabAllocator } from '../src/slab-allocator.ts';

test('SlabAllocator hands out disjoint ranges of the requested sizes and big requests their own buffer', () => {
  const slabs = new SlabAllocator(1024);
  const ranges = [10, 1, 255, 256, 100, 200, 7, 256].map((n, i) => {
    const b = slabs.alloc(n);
    b.fill(i);
    return { b, i, n };
  });
  for (const { b, i, n } of ranges) {
    assert.equal(b.length, n);
    assert.ok(b.every((x) => x === i), `range ${i} was not overwritten by a later one`);
  }
  assert.equal(ranges[0]!.b.buffer, ranges[1]!.b.buffer, 'small requests share a slab');
  const big = slabs.alloc(257);
  assert.equal(big.byteLength, big.buffer.byteLength, 'above a quarter of the slab: a buffer of its own');
});

test('RecyclingSlabs hands a recycled group\'s slabs out again, and never the slabs of a group not recycled', () => {
  const slabs = new RecyclingSlabs(1024);
  const a = [slabs.alloc(600 / 2), slabs.alloc(400), slabs.alloc(400)];
  const groupA = slabs.seal();
  assert.equal(groupA.length, 2, 'three ranges, two slabs');
  const b = slabs.alloc(100);
  const groupB = slabs.seal();
  assert.ok(!groupA.some((s) => s.buffer === b.buffer), 'a sealed group is not written to while not recycled');
  slabs.recycle(groupA);
  const c = slabs.alloc(100);
  assert.ok(groupA.some((s) => s.buffer === c.buffer), 'recycled slabs are reused');
  assert.ok(!groupB.some((s) => s.buffer === c.buffer));
  const big = slabs.alloc(513);
  assert.equal(big.byteLength, big.buffer.byteLength, 'above half a slab: a buffer of its own');
  assert.equal(slabs.seal().length, 1, 'the big buffer belongs to no group');
  assert.equal(a[0]!.length + a[1]!.length + a[2]!.length, 1100);
});

test('RecyclingSlabs of one slab size share spare slabs: one stream\'s recycled group serves another', () => {
  const first = new RecyclingSlabs(2048);
  const second = new RecyclingSlabs(2048);
  first.alloc(1000);
  first.alloc(1000);
  const group = first.seal();
  first.recycle(group);
  const x = second.alloc(1000);
  assert.ok(group.some((s) => s.buffer === x.buffer), 'the other allocator got a recycled slab');
});
