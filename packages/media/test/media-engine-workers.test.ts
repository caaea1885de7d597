// media-engine.test.ts again with the ingest in 2 worker threads, plus what only workers can do: die.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { INGEST_FAILED } from '../src/stream-ingest.ts';
import { nextEvent, testEngine, waitFor } from './support/engine.ts';
import { fixtureUnits, gbRtpPackets, sendUdp } from './support/gb-sender.ts';

process.env.GB_TEST_INGEST_WORKERS = '2';
await import('./media-engine.test.ts');

test('a dead ingest worker closes its streams with reason ingest-failed and the engine keeps serving', async () => {
  const { engine, dataDir } = await testEngine({ ingestWorkers: 1, idleTimeoutS: 30 });
  try {
    const pool = engine.ingestWorkers;
    assert.ok(pool && pool.size === 1);
    const a = await engine.openStream({ streamId: 'dies1', transport: 'udp' });
    const b = await engine.openStream({ streamId: 'dies2', transport: 'tcp-passive' });
    assert.equal(pool.info()[0]!.streams, 2);
    const units = (await fixtureUnits('h264')).slice(0, 120);
    await sendUdp(gbRtpPackets(units.slice(0, 60)), a.port);
    await waitFor('frames from the worker', () => a.stats().frames > 50);
    const closes: string[] = [];
    engine.on('streamClose', (e) => closes.push(`${e.streamId}:${e.reason}`));
    const closedA = nextEvent(a, 'close');
    const closedB = nextEvent(b, 'close');
    await pool.restartWorker(0, 'killed by the test');
    assert.deepEqual(await closedA, [{ reason: INGEST_FAILED }]);
    assert.deepEqual(await closedB, [{ reason: INGEST_FAILED }]);
    assert.deepEqual(closes.sort(), [`dies1:${INGEST_FAILED}`, `dies2:${INGEST_FAILED}`]);
    assert.equal(engine.stream('dies1'), undefined);
    assert.equal(engine.streamCount, 0);

    // the replacement worker serves a new stream on the freed port, through to HLS
    const c = await engine.openStream({ streamId: 'after', transport: 'udp', port: a.port });
    const key = nextEvent(c, 'firstKeyFrame');
    await sendUdp(gbRtpPackets(units), c.port);
    await key;
    await waitFor('a HLS playlist after the restart', () => c.hls.playlist !== null);
    await waitFor('all frames after the restart', () => c.stats().frames >= 119);
    assert.equal(pool.info()[0]!.streams, 1);
  } finally {
    await engine.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('createMediaEngine() rejects an ingestWorkers that is not an integer >= 0 with TypeError', async () => {
  await assert.rejects(testEngine({ ingestWorkers: -1 }), TypeError);
  await assert.rejects(testEngine({ ingestWorkers: 1.5 }), TypeError);
});
