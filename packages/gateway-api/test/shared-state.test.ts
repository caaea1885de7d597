import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPresenceStore } from '../src/state/presence-store.ts';
import { createSharedState, StateUnavailableError, type PresenceRecord, type SharedState } from '../src/state/shared-state.ts';
import { serviceUrl } from './support/databases.ts';

const record = (deviceId: string, expiresInMs = 60_000): PresenceRecord => ({
  deviceId,
  host: '192.168.1.64',
  port: 5060,
  transport: 'udp',
  lastSeen: Date.now(),
  expiresAt: Date.now() + expiresInMs,
});

/** Two handles on the same state: for memory the same object, for Redis two connections (two gateway nodes). */
type Pair = { a: SharedState; b: SharedState };

function suite(kind: 'memory' | 'redis', open: () => Promise<Pair>) {
  describe(`SharedState (${kind})`, () => {
    let a: SharedState;
    let b: SharedState;
    before(async () => {
      ({ a, b } = await open());
    });
    after(async () => {
      await a.close();
      await b.close();
    });

    it(`reports kind "${kind}" and answers ping()`, async () => {
      assert.equal(a.kind, kind);
      assert.equal(await a.ping(), true);
    });

    it('presence.set() makes records visible to get() and many() on every node, delete() removes them', async () => {
      await a.presence.set([record('34020000001320000001'), record('34020000001320000002')], 60_000);
      assert.equal((await b.presence.get('34020000001320000001'))?.host, '192.168.1.64');
      const m = await b.presence.many(['34020000001320000001', '34020000001320000002', '34020000001320000009']);
      assert.deepEqual([...m.keys()].sort(), ['34020000001320000001', '34020000001320000002']);
      assert.equal(m.get('34020000001320000002')?.transport, 'udp');
      await b.presence.delete(['34020000001320000001']);
      assert.equal(await a.presence.get('34020000001320000001'), undefined);
      assert.equal((await a.presence.many([])).size, 0);
    });

    it('presence records expire after their TTL (or their expiresAt when no TTL is given)', async () => {
      await a.presence.set([record('34020000001320000003')], 150);
      await a.presence.set([record('34020000001320000004', 150)]);
      assert.ok(await b.presence.get('34020000001320000003'));
      await sleep(400);
      assert.equal(await b.presence.get('34020000001320000003'), undefined);
      assert.equal((await b.presence.many(['34020000001320000004'])).size, 0);
    });

    it('incr() counts atomically across nodes', async () => {
      const key = 'c-' + randomBytes(3).toString('hex');
      const values = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).incr(key)));
      assert.deepEqual(values.sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i + 1));
      assert.equal(await a.incr(key, 10), 60);
    });

    it('allocate() cycles through [min, max] without duplicates inside one cycle', async () => {
      const key = 'alloc-' + randomBytes(3).toString('hex');
      const got = await Promise.all(Array.from({ length: 5 }, (_, i) => (i % 2 ? a : b).allocate(key, 7, 11)));
      assert.deepEqual(got.sort((x, y) => x - y), [7, 8, 9, 10, 11]);
      assert.equal(await a.allocate(key, 7, 11), 7, 'wraps to min');
      await assert.rejects(a.allocate(key, 5, 1), TypeError);
    });

    it('tryLock() gives the lock to one caller only, until release or expiry', async () => {
      const key = 'lock-' + randomBytes(3).toString('hex');
      const [x, y] = await Promise.all([a.tryLock(key, 5_000), b.tryLock(key, 5_000)]);
      assert.ok((x === null) !== (y === null), 'exactly one holder');
      const release = (x ?? y)!;
      assert.equal(await a.tryLock(key, 5_000), null);
      await release();
      const again = await b.tryLock(key, 100);
      assert.ok(again, 'free after release');
      await sleep(250);
      const afterExpiry = await a.tryLock(key, 5_000);
      assert.ok(afterExpiry, 'free after expiry');
      await again(); // a stale release must not free the new holder's lock
      assert.equal(await b.tryLock(key, 5_000), null);
      await afterExpiry();
    });

    it('publish() reaches every subscriber of the channel on every node, and unsubscribe stops it', async () => {
      const channel = 'ch-' + randomBytes(3).toString('hex');
      const gotA: string[] = [];
      const gotB: string[] = [];
      const unA = await a.subscribe(channel, (m) => gotA.push(m));
      const unB = await b.subscribe(channel, (m) => gotB.push(m));
      await b.subscribe('other-' + channel, () => assert.fail('wrong channel'));
      await a.subscribe(channel, () => {
        throw new Error('a broken subscriber must not stop the others');
      });
      await a.publish(channel, 'hello');
      await b.publish(channel, '你好');
      await waitUntil(() => gotA.length === 2 && gotB.length === 2);
      assert.deepEqual(gotA, ['hello', '你好']);
      assert.deepEqual(gotB, ['hello', '你好']);
      await unB();
      await a.publish(channel, 'third');
      await waitUntil(() => gotA.length === 3);
      await sleep(50);
      assert.equal(gotB.length, 2);
      await unA();
    });

    it('createPresenceStore() maps sip-core setOnline/setOffline onto shared presence', async () => {
      const store = createPresenceStore(a);
      const entries = Array.from({ length: 200 }, (_, i) => record(`340200000013200${String(10000 + i)}`));
      await store.setOnline(entries);
      const online = await createPresenceStore(b).online(entries.map((e) => e.deviceId));
      assert.equal(online.size, 200);
      await store.setOffline(entries.slice(0, 150).map((e) => e.deviceId));
      assert.equal((await b.presence.many(entries.map((e) => e.deviceId))).size, 50);
    });
  });
}

suite('memory', async () => {
  const s = await createSharedState();
  // one process, one state: both "nodes" are the same object, closing twice must be harmless
  return { a: s, b: s };
});

let redisUrl: string | undefined;
let ciError: Error | undefined;
try {
  redisUrl = serviceUrl('GB_TEST_REDIS_URL');
} catch (err) {
  ciError = err as Error;
}
if (ciError) {
  test('Redis suite runs under CI', () => {
    throw ciError;
  });
} else if (!redisUrl) {
  test('SharedState (redis) (skipped: GB_TEST_REDIS_URL not set)', { skip: 'GB_TEST_REDIS_URL not set' }, () => {});
} else {
  const url = redisUrl;
  const keyPrefix = `gbt:${process.pid}:${randomBytes(3).toString('hex')}:`;
  suite('redis', async () => ({
    a: await createSharedState({ redisUrl: url, keyPrefix }),
    b: await createSharedState({ redisUrl: url, keyPrefix }),
  }));
}

describe('createSharedState()', () => {
  it('rejects with StateUnavailableError naming REDIS_URL when Redis cannot be reached', async () => {
    await assert.rejects(
      createSharedState({ redisUrl: 'redis://:pw@127.0.0.1:1/0' }),
      (err: Error) => err instanceof StateUnavailableError && /REDIS_URL redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0/.test(err.message),
    );
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
