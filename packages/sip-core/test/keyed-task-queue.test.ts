import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedTaskQueue } from '../src/keyed-task-queue.ts';

test('KeyedTaskQueue runs at most `concurrency` tasks, one per key, and survives failing tasks', async () => {
  const q = new KeyedTaskQueue(2);
  let running = 0;
  let peak = 0;
  const ran: string[] = [];
  const task = (key: string, fail = false) => async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 20));
    running--;
    ran.push(key);
    if (fail) throw new Error('boom');
  };
  q.push('a', task('a', true));
  q.push('b', task('b'));
  q.push('a', task('a-again'));
  q.push('c', task('c'));
  q.push('c', task('c-again'));
  q.push('d', task('d'));
  while (q.size > 0) await new Promise((r) => setTimeout(r, 10));
  assert.equal(peak, 2);
  assert.deepEqual([...ran].sort(), ['a', 'b', 'c', 'd']);
});
