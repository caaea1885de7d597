import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MemoryState } from '../src/state/memory-state.ts';
import { createSharedState } from '../src/state/shared-state.ts';
import { serviceUrl } from './support/databases.ts';
import { SsrcAllocator, SsrcExhaustedError, ssrcToStreamId, type SequenceSource } from '../src/play/ssrc-allocator.ts';

// A counter shared by several allocators stands for the shared state several nodes see.
function sharedCounter(start = 0): SequenceSource & { value: number } {
  const c = {
    value: start,
    async incr() {
      c.value += 1;
      return c.value;
    },
  };
  return c;
}

describe('SsrcAllocator', () => {
  test('allocate("live") returns 0 + digits 4-8 of the domain + a 4-digit sequence', async () => {
    const a = new SsrcAllocator({ domain: '3402000000', state: sharedCounter() });
    assert.equal(await a.allocate('live'), '0200000001');
    assert.equal(await a.allocate('history'), '1200000002');
  });

  test('allocate() wraps the sequence at 10000 instead of overflowing the 10 digits', async () => {
    const a = new SsrcAllocator({ domain: '4401060000', state: sharedCounter(9998) });
    assert.equal(await a.allocate('live'), '0106009999');
    assert.equal(await a.allocate('live'), '0106000000');
    assert.equal(await a.allocate('history'), '1106000001');
  });

  test('allocate() skips sequence numbers held by open streams after a wrap', async () => {
    const counter = sharedCounter(0);
    const dbOpen = new Set(['0200000003']);
    const a = new SsrcAllocator({ domain: '3402000000', state: counter, inUse: async (s) => dbOpen.has(s) });
    assert.equal(await a.allocate('live'), '0200000001');
    assert.equal(await a.allocate('live'), '0200000002');
    counter.value = 10000; // wrapped: 0001 and 0002 are held here, 0003 by a stream in the database
    assert.equal(await a.allocate('live'), '0200000004');
  });

  test('allocate() never hands out an SSRC twice among open streams, even under concurrency', async () => {
    const counter = sharedCounter(0);
    const nodeA = new SsrcAllocator({ domain: '3402000000', state: counter });
    const nodeB = new SsrcAllocator({ domain: '3402000000', state: counter });
    const all = await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 ? nodeA : nodeB).allocate('live')));
    assert.equal(new Set(all).size, 400);
  });

  test('two nodes on one shared state never hand out the same SSRC', async () => {
    const state = new MemoryState();
    const nodes = [new SsrcAllocator({ domain: '3402000000', state }), new SsrcAllocator({ domain: '3402000000', state })];
    const all = await Promise.all(Array.from({ length: 1000 }, (_, i) => nodes[i % 2]!.allocate(i % 3 ? 'live' : 'history')));
    assert.equal(new Set(all.map((s) => s.slice(1))).size, 1000);
    await state.close();
  });

  const redisUrl = serviceUrl('GB_TEST_REDIS_URL');
  test('two nodes on one Redis never hand out the same SSRC', { skip: redisUrl ? false : 'GB_TEST_REDIS_URL not set' }, async () => {
    const keyPrefix = `gbt:${process.pid}:${randomBytes(3).toString('hex')}:`;
    const [a, b] = [await createSharedState({ redisUrl, keyPrefix }), await createSharedState({ redisUrl, keyPrefix })];
    try {
      const nodes = [new SsrcAllocator({ domain: '3402000000', state: a }), new SsrcAllocator({ domain: '3402000000', state: b })];
      const all = await Promise.all(Array.from({ length: 500 }, (_, i) => nodes[i % 2]!.allocate('live')));
      assert.equal(new Set(all).size, 500);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('allocate() rejects with SsrcExhaustedError when every sequence number is in use', async () => {
    const a = new SsrcAllocator({ domain: '3402000000', state: sharedCounter(), inUse: () => true });
    await assert.rejects(a.allocate('live'), SsrcExhaustedError);
  });

  test('release() makes an SSRC available again after the sequence wraps', async () => {
    const counter = sharedCounter(0);
    const a = new SsrcAllocator({ domain: '3402000000', state: counter });
    const s = await a.allocate('live');
    a.release(s);
    counter.value = 10000;
    assert.equal(await a.allocate('live'), s);
  });

  test('the constructor rejects a domain that is not 10 digits', () => {
    assert.throws(() => new SsrcAllocator({ domain: '3402', state: sharedCounter() }), TypeError);
  });
});

describe('ssrcToStreamId', () => {
  test('formats the SSRC as 8 upper-case hex digits, as gosip', () => {
    assert.equal(ssrcToStreamId('0200000001'), '0BEBC201');
    assert.equal(ssrcToStreamId('1999999999'), '773593FF');
  });
  test('rejects values that are not decimal', () => {
    assert.throws(() => ssrcToStreamId('12ab'), TypeError);
  });
});
