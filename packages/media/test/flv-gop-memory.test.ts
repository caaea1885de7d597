import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlvGopMemory } from '../src/flv-gop-memory.ts';

/**
 * A GOP of `frames` tags of 20 kB, each filled with its index: returns the tags. `beforeKeySent`
 * runs when the key frame's tag is built but not yet in the cache (the previous GOP still is).
 */
function gop(memory: FlvGopMemory, frames: number, players: number, beforeKeySent = (): void => {}): Buffer[] {
  const tags: Buffer[] = [];
  memory.keyFrame();
  for (let i = 0; i < frames; i++) {
    const tag = memory.alloc(20_000);
    tag.fill(i & 0xff);
    tags.push(tag);
    if (i === 0) beforeKeySent();
    memory.sent(i === 0, players);
  }
  return tags;
}

const intact = (tags: Buffer[]): boolean => tags.every((t, i) => t.every((b) => b === (i & 0xff)));

const slabsOf = (tags: Buffer[]): Set<ArrayBufferLike> => new Set(tags.map((t) => t.buffer));
const shares = (a: Buffer[], b: Buffer[]): boolean => [...slabsOf(a)].some((s) => slabsOf(b).has(s));

test('FlvGopMemory reuses a GOP\'s memory once the next key frame has replaced it in the cache, never while it is cached', () => {
  const memory = new FlvGopMemory();
  const gops = [gop(memory, 25, 0)];
  for (let n = 1; n < 6; n++) {
    const cached = gops[n - 1]!;
    gops.push(gop(memory, 25, 0, () => assert.ok(intact(cached), `GOP ${n - 1} intact until GOP ${n}'s key frame replaced it`)));
    assert.ok(intact(gops[n]!), `GOP ${n} intact while cached`);
  }
  const slabs = new Set(gops.flatMap((g) => g.map((t) => t.buffer)));
  assert.ok(slabs.size <= 3 * 8, `six GOPs of 500 kB share ${slabs.size} slabs of 64 kB`);
});

test('FlvGopMemory never reuses a GOP that went to a player (its socket may still be writing it)', () => {
  const memory = new FlvGopMemory();
  const g1 = gop(memory, 25, 1);
  gop(memory, 25, 0);
  const g3 = gop(memory, 25, 0);
  const g4 = gop(memory, 25, 0);
  assert.ok(!shares(g1, g3) && !shares(g1, g4), 'a GOP sent to a player is left to the GC');
  assert.ok(intact(g1));
});

test('FlvGopMemory: a key frame that never replaced the cache (sent() not told) keeps the cached GOP', () => {
  const memory = new FlvGopMemory();
  const g1 = gop(memory, 10, 0);
  memory.keyFrame(); // a key frame the muxer then dropped: the cache still holds g1
  const g2: Buffer[] = [];
  for (let i = 0; i < 10; i++) {
    g2.push(memory.alloc(20_000));
    memory.sent(false, 0);
  }
  assert.ok(!shares(g1, g2), 'g1 is still cached: its slabs are not handed out');
});
