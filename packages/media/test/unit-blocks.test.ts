import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessUnit } from '../src/access-unit.ts';
import { forEachBlockUnit, UnitBlockWriter, type UnitBlock } from '../src/unit-blocks.ts';

function unit(i: number, bytes: number): AccessUnit {
  const data = Buffer.alloc(bytes);
  for (let b = 0; b < bytes; b++) data[b] = (i * 31 + b) & 0xff;
  return { kind: i % 3 === 0 ? 'audio' : 'video', codec: i % 3 === 0 ? 'aac' : 'h265', key: i % 5 === 0, pts: i * 3600 + 0.5, dts: i * 3600, data };
}

function read(blocks: UnitBlock[]): { stream: number; au: AccessUnit }[] {
  const out: { stream: number; au: AccessUnit }[] = [];
  for (const b of blocks) forEachBlockUnit(b, (stream, au) => out.push({ stream, au: { ...au, data: Buffer.from(au.data) } }));
  return out;
}

test('UnitBlockWriter: units (fields and bytes) come out in order across blocks, a large unit gets a larger block, and blocks are reused once handed back', () => {
  const writer = new UnitBlockWriter(1 << 20, 4096);
  const seen = new Set<ArrayBuffer>();
  let i = 0;
  for (let turn = 0; turn < 50; turn++) {
    const sent: AccessUnit[] = [];
    for (let k = 0; k < 1 + (turn % 6); k++) {
      // mostly small units, now and then one larger than a block
      const au = unit(i++, k === 2 && turn % 5 === 0 ? 10_000 : 1 + ((turn * 397 + k * 211) % 1500));
      assert.ok(writer.write(7 + k, au));
      sent.push(au);
    }
    const blocks = writer.take();
    assert.deepEqual(read(blocks), sent.map((au, k) => ({ stream: 7 + k, au })));
    for (const b of blocks) {
      seen.add(b.buffer);
      assert.ok(b.buffer.byteLength === 4096 || b.buffer.byteLength === 16_384, `power-of-two block sizes (${b.buffer.byteLength})`);
      writer.recycle(b.buffer);
    }
    assert.equal(writer.inFlight, 0);
  }
  assert.ok(seen.size <= 6, `blocks are reused (${seen.size} made for 50 turns)`);
  assert.deepEqual(writer.take(), []);
  assert.equal(writer.pending, false);
});

test('UnitBlockWriter refuses units beyond the in-flight bytes until blocks come back', () => {
  const writer = new UnitBlockWriter(3 * 4096, 4096);
  let written = 0;
  while (writer.write(1, unit(written, 3000))) written++;
  assert.equal(written, 3, 'three blocks of one 3000-byte unit each');
  assert.equal(writer.write(1, unit(9, 100_000)), false, 'a unit larger than the limit is refused');
  const blocks = writer.take();
  assert.equal(blocks.length, 3);
  writer.recycle(blocks[0]!.buffer);
  assert.ok(writer.write(1, unit(10, 3000)), 'a block handed back makes room');
  assert.equal(writer.write(1, unit(11, 3000)), false);
});
