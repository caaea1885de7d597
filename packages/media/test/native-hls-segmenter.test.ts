import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { NativeHlsSegmenter } from '../src/native-hls-segmenter.ts';
import { fixtureUnits } from './support/gb-sender.ts';
import { ffprobeStreams } from './support/probe.ts';

const logger = pino({ level: 'silent' });
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 30));

test('NativeHlsSegmenter reuses segment buffers once on disk, but never those pendingSegment() handed to a reader', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'native-hls-'));
  try {
    const hls = new NativeHlsSegmenter({ dir, segmentSeconds: 2, playlistSize: 10, logger });
    const units = await fixtureUnits('h264', true);
    let lent: { parts: Buffer[]; copy: Buffer } | undefined;
    // fed in real-time-like steps so earlier segments reach the disk (and their buffers come back) meanwhile
    for (let i = 0; i < units.length; i++) {
      hls.input(units[i]!);
      if (!lent && hls.playlist?.includes('seg-1.ts')) {
        // an HTTP reader asks for the segment before it is on disk
        const parts = hls.pendingSegment('seg-1.ts');
        assert.ok(parts, 'the first segment is served from memory until written');
        lent = { parts, copy: Buffer.concat(parts) };
      }
      if (i % 20 === 0) await settle();
    }
    await hls.finish();
    assert.ok(lent);
    assert.ok(Buffer.concat(lent.parts).equals(lent.copy), 'the buffers a reader holds are never overwritten');
    assert.ok((await readFile(join(dir, 'seg-1.ts'))).equals(lent.copy));
    // and every segment written from reused buffers is intact: all 250 frames read back
    await writeFile(join(dir, 'index.m3u8'), hls.playlist!);
    const streams = await ffprobeStreams(join(dir, 'index.m3u8'));
    assert.deepEqual(streams.find((s) => s.codec === 'h264'), { codec: 'h264', width: 640, height: 360, frames: 250 });
    await hls.destroy();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('NativeHlsSegmenter serves a segment from memory when writing it to disk fails; destroy() then still resolves', async () => {
  const parent = await mkdtemp(join(tmpdir(), 'native-hls-'));
  try {
    // the stream directory's parent is a regular file: every write fails with ENOTDIR
    await writeFile(join(parent, 'not-a-dir'), '');
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const hls = new NativeHlsSegmenter({ dir: join(parent, 'not-a-dir', 'stream'), segmentSeconds: 2, playlistSize: 3, logger: log });
    for (const au of await fixtureUnits('h264', false)) hls.input(au);
    await hls.finish();
    const names = [...hls.playlist!.matchAll(/^seg-\d+\.ts$/gm)].map((m) => m[0]);
    assert.equal(names.length, 3);
    for (const name of names) {
      const parts = hls.pendingSegment(name);
      assert.ok(parts, `${name} still served`);
      const ts = Buffer.concat(parts);
      assert.ok(ts.length > 188 && ts.length % 188 === 0 && ts[0] === 0x47 && ts[188] === 0x47, `${name} is whole TS`);
    }
    assert.equal(hls.pendingSegment('seg-0.ts'), undefined, 'a segment out of the playlist is dropped from memory');
    assert.ok(warnings.some((w) => w.includes('HLS segment write failed')));
    await hls.destroy();
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});

test('NativeHlsSegmenter lets go of segments that leave the playlist while the disk is stuck', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const dir = await mkdtemp(join(tmpdir(), 'native-hls-'));
  // a FIFO where the first segment goes: its open() waits for a reader, as a stalled disk would
  const fifo = join(dir, 'seg-1.ts');
  execFileSync('mkfifo', [fifo]);
  // reading the FIFO lets the stuck write end (also when an assertion fails first: no hung test)
  let drain: ReturnType<typeof createReadStream> | undefined;
  const unblock = (): void => {
    drain ??= createReadStream(fifo).resume();
  };
  try {
    const hls = new NativeHlsSegmenter({ dir, segmentSeconds: 2, playlistSize: 2, logger });
    const units = await fixtureUnits('h264', false);
    let i = 0;
    const feedUntil = (name: string): void => {
      while (i < units.length && !hls.playlist?.includes(name)) hls.input(units[i++]!);
    };
    feedUntil('seg-1.ts');
    await settle(); // seg-1's write is now stuck
    feedUntil('seg-2.ts');
    const seg2 = new WeakRef(hls.pendingSegment('seg-2.ts')!);
    while (i < units.length) hls.input(units[i++]!);
    assert.ok(!hls.playlist!.includes('seg-2.ts'), 'seg-2 left the playlist');
    await settle();
    gc();
    assert.equal(seg2.deref(), undefined, 'nothing holds a segment that left the playlist');
    // the disk comes back: the stuck write ends and the segments still listed reach it
    unblock();
    await hls.finish();
    const names = [...hls.playlist!.matchAll(/^seg-\d+\.ts$/gm)].map((m) => m[0]);
    const files = await readdir(dir);
    for (const name of names) assert.ok(files.includes(name), `${name} on disk`);
    await hls.destroy();
  } finally {
    unblock();
    await settle();
    drain?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});
