import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createRequire } from 'node:module';
import { nmsHost, nmsFrameFlags } from '../src/nms-host.ts';
import { FlvMuxer, encodeFlvTag } from '../src/flv-muxer.ts';
import type { AccessUnit } from '../src/access-unit.ts';
import { fixtureUnits } from './support/gb-sender.ts';
import { waitFor } from './support/engine.ts';
import { ffprobeStreams, type ProbedStream } from './support/probe.ts';

// node-media-server is one per process: one host for the file.
const dataDir = await mkdtemp(join(tmpdir(), 'nms-host-'));
await nmsHost.acquire({ bindIp: '127.0.0.1', httpPort: 0, rtmpPort: 0, dataDir, logger: pino({ level: 'silent' }) });
after(async () => {
  await nmsHost.release();
  await rm(dataDir, { recursive: true, force: true });
});

test('publisher.sendTag() serves RTMP and HTTP-FLV players that join mid-GOP from the GOP cache, every frame after it decodable', async () => {
  const path = '/rtp/midgop';
  const pub = nmsHost.publish(path);
  const flv = new FlvMuxer({ onTag: (t) => pub.sendTag(t) });
  const units = await fixtureUnits('h264', true);
  const video = units.filter((u) => u.kind === 'video');
  // GOP 50: the players join after frame 60, so the cache holds key frame 50 and the nine after it
  const joinAt = units.indexOf(video[60]!);
  for (const au of units.slice(0, joinAt)) flv.input(au);

  const players: Promise<ProbedStream[]>[] = [
    ffprobeStreams(`rtmp://127.0.0.1:${nmsHost.rtmpPort}${path}`),
    ffprobeStreams(`http://127.0.0.1:${nmsHost.httpPort}${path}.flv`),
  ];
  await waitFor('an RTMP and an HTTP-FLV player', () => nmsHost.players(path).length === 2);
  for (const au of units.slice(joinAt)) flv.input(au);
  // let the sockets drain before the publish ends and closes the players
  await new Promise((r) => setTimeout(r, 500));
  pub.end();

  for (const [i, streams] of (await Promise.all(players)).entries()) {
    const name = i === 0 ? 'RTMP' : 'HTTP-FLV';
    assert.deepEqual(streams.find((s) => s.codec === 'h264'), { codec: 'h264', width: 640, height: 360, frames: 200 }, name);
    assert.ok((streams.find((s) => s.codec === 'aac')?.frames ?? 0) > 300, `${name} carries the AAC track`);
  }
});

test('FlvMuxer tags carry their serialised message, byte for byte what encodeFlvTag() makes', async () => {
  const units = await fixtureUnits('h265', true);
  let tags = 0;
  const flv = new FlvMuxer({
    onTag: (t) => {
      tags++;
      assert.ok(t.message, 'every tag is built in one piece');
      assert.ok(t.message.equals(encodeFlvTag(t)));
      assert.equal(t.data.buffer, t.message.buffer, 'data is a view of the message');
    },
  });
  for (const au of units) flv.input(au);
  assert.ok(tags > 600, `${tags} tags`);
});

test('nmsFrameFlags() classifies every tag FlvMuxer makes as node-media-server\'s Flv.parserTag() does', async () => {
  const require = createRequire(import.meta.url);
  const Flv = require('node-media-server/src/protocol/flv.js') as { parserTag(t: number, time: number, size: number, d: Buffer): { flags: number } };
  const g711: AccessUnit[] = Array.from({ length: 50 }, (_, i) => ({ kind: 'audio', codec: i % 2 ? 'g711a' : 'g711u', data: Buffer.alloc(160, i), pts: i * 1440, dts: i * 1440, key: true }));
  const seen = new Map<string, number>();
  for (const units of [await fixtureUnits('h264', true), await fixtureUnits('h265', true), g711]) {
    const flv = new FlvMuxer({
      onTag: (t) => {
        const theirs = Flv.parserTag(t.type, t.timestamp, t.data.length, t.data).flags;
        const ours = nmsFrameFlags(t.type, t.data);
        assert.equal(ours, theirs === 1 || theirs === 3 || theirs === 4 ? theirs : -1, `tag type ${t.type} byte0 ${t.data[0]}`);
        seen.set(`${t.type}/${theirs}`, (seen.get(`${t.type}/${theirs}`) ?? 0) + 1);
      },
    });
    // a key frame first so the muxer starts, then the G.711 run on its own
    if (units === g711) for (const au of (await fixtureUnits('h264')).slice(0, 1)) flv.input(au);
    for (const au of units) flv.input(au);
  }
  // audio config + frames, video config + key + inter frames, metadata were all met
  for (const k of ['8/0', '8/1', '9/2', '9/3', '9/4', '18/5']) assert.ok(seen.get(k), `tags ${k} seen`);
});
