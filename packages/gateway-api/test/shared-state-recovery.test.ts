import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisServerPath, startRedis, type RedisServer } from '../../../scripts/test-services.mjs';
import { createSharedState, type SharedState } from '../src/state/shared-state.ts';
import { underCi } from './support/databases.ts';

// Redis goes away under a running gateway and comes back: ping() (and so /health) says so, calls
// fail fast instead of queueing for minutes, the process stays up, and the state works again
// without a restart. Runs its OWN redis-server because it stops it.

const available = Boolean(redisServerPath());
if (!available && underCi()) throw new Error('redis-server is required under CI for the shared-state recovery test');

describe('SharedState (redis) whose server goes away', { skip: !available && 'redis-server not installed' }, () => {
  let redis: RedisServer;
  let state: SharedState;
  let received: string[];

  before(async () => {
    redis = await startRedis();
    state = await createSharedState({ redisUrl: redis.url, keyPrefix: 'rec:' });
    received = [];
    await state.subscribe('events', (m) => received.push(m));
  });
  after(async () => {
    await state?.close();
    await redis?.stop();
  });

  async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
    const started = Date.now();
    while (!(await cond())) {
      if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await sleep(50);
    }
    return Date.now() - started;
  }

  it('ping() turns false and calls reject within seconds once redis-server stops', async (t) => {
    assert.equal(await state.incr('n'), 1);
    const stoppedAt = Date.now();
    await redis.stop();
    await until('ping false', async () => !(await state.ping()));
    const ms = Date.now() - stoppedAt;
    t.diagnostic(`redis loss seen by ping() ${ms} ms after SIGTERM to redis-server`);
    const started = Date.now();
    await assert.rejects(state.incr('n'));
    assert.ok(Date.now() - started < 10_000, `incr() failed after ${Date.now() - started} ms`);
  });

  it('reconnects by itself when redis-server is back: commands and subscriptions work again', async (t) => {
    await redis.start();
    const ms = await until('ping true', () => state.ping());
    t.diagnostic(`redis back in ping() ${ms} ms after restart`);
    assert.equal(await state.incr('n'), 1, 'a fresh, empty server');
    const unlock = await state.tryLock('l', 1000);
    assert.ok(unlock);
    await unlock();
    // ioredis re-subscribes the subscriber connection on reconnect
    await until('subscription restored', async () => {
      await state.publish('events', 'after-restart');
      await sleep(50);
      return received.includes('after-restart');
    });
  });
});
