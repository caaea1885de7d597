import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { threadId, Worker } from 'node:worker_threads';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { retainAccessUnit, type AccessUnit } from '../src/access-unit.ts';
import { IngestWorkerPool } from '../src/ingest-worker-pool.ts';
import type { StreamIngest } from '../src/stream-ingest.ts';
import { InvalidStateError } from '../src/errors.ts';
import { frameRfc4571 } from '../src/rtp-packetizer.ts';
import { loadVideoAccessUnits, seededRandom, shuffleWithin, toRtpPackets } from './support/fixtures.ts';

const FAULTY_WORKER = new URL('./support/faulty-ingest-worker.ts', import.meta.url);

async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function sendUdp(port: number, packets: Buffer[]): Promise<number> {
  const sock = dgram.createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  for (let i = 0; i < packets.length; i++) {
    sock.send(packets[i]!, port, '127.0.0.1');
    if (i % 8 === 7) await tick();
  }
  await sleep(20);
  const from = sock.address().port;
  sock.close();
  return from;
}

function collect(ingest: StreamIngest): AccessUnit[] {
  const out: AccessUnit[] = [];
  ingest.on('accessUnit', (au) => out.push(retainAccessUnit(au)));
  return out;
}

function assertAllFrames(out: AccessUnit[], src: AccessUnit[]): void {
  assert.equal(out.length, src.length);
  for (let i = 0; i < src.length; i++) {
    assert.ok(out[i]!.data.equals(src[i]!.data) && out[i]!.pts === src[i]!.pts && out[i]!.key === src[i]!.key, `frame ${i}`);
  }
}

test('IngestWorkerPool runs the TypeScript worker under tsx and delivers every H.264 frame of a reordered UDP stream to the main thread', async () => {
  const src = await loadVideoAccessUnits({ codec: 'h264' });
  const packets = shuffleWithin(toRtpPackets(src, { ssrc: 0x42 }).flat(), 6, seededRandom(3));
  const pool = await IngestWorkerPool.start({ workers: 1 });
  try {
    const [info] = pool.info();
    assert.ok(info && info.threadId !== threadId, 'the ingest runs in another thread');
    const ingest = await pool.open({ streamId: 'w1', transport: 'udp', bindIp: '127.0.0.1', port: 0, expectedSsrc: 0x42 });
    assert.ok(ingest.port > 0);
    const out = collect(ingest);
    const bound = new Promise<{ host: string; port: number }>((r) => ingest.once('bound', r));
    const from = await sendUdp(ingest.port, packets);
    assert.deepEqual(await bound, { host: '127.0.0.1', port: from });
    await waitFor(() => ingest.stats().packets === packets.length, 'all packets counted');
    const [usage] = await pool.usage();
    assert.ok(usage!.cpuMs > 0 && usage!.elu.active > 0, `worker usage ${JSON.stringify(usage)}`);
    await ingest.flush();
    // flush() resolves only after the units it released reached this thread
    assertAllFrames(out, src);
    const st = ingest.stats();
    assert.equal(st.bytes, packets.reduce((n, p) => n + p.length, 0));
    assert.equal(st.source, `127.0.0.1:${from}`);
    assert.equal(st.lost, 0);
    assert.equal(st.frames, src.length);
    assert.equal(st.videoCodec, 'h264');
    assert.ok(st.firstPacketAt! > 0 && st.lastPacketAt! >= st.firstPacketAt!);
    assert.equal(pool.info()[0]!.streams, 1);
    await ingest.close();
    await ingest.close();
    assert.equal(pool.info()[0]!.streams, 0);
  } finally {
    await pool.close();
  }
});

test('IngestWorkerPool puts each new stream on the least loaded worker and reports a busy port as EADDRINUSE', async () => {
  const pool = await IngestWorkerPool.start({ workers: 2 });
  const busy = dgram.createSocket('udp4');
  try {
    const streams = await Promise.all([0, 1, 2, 3].map((i) => pool.open({ streamId: `s${i}`, transport: 'udp', bindIp: '127.0.0.1', port: 0 })));
    assert.deepEqual(pool.info().map((w) => w.streams), [2, 2]);
    busy.bind(0, '127.0.0.1');
    await once(busy, 'listening');
    await assert.rejects(pool.open({ streamId: 'taken', transport: 'udp', bindIp: '127.0.0.1', port: busy.address().port }), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'EADDRINUSE');
      return true;
    });
    await Promise.all(streams.map((s) => s.close()));
    assert.deepEqual(pool.info().map((w) => w.streams), [0, 0]);
  } finally {
    busy.close();
    await pool.close();
  }
  await assert.rejects(pool.open({ streamId: 'late', transport: 'udp', bindIp: '127.0.0.1', port: 0 }), InvalidStateError);
});

test('IngestWorkerPool tcp-passive and tcp-active streams report bound and disconnected from the worker', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 60);
  const framed = Buffer.concat(toRtpPackets(src).flat().map(frameRfc4571));
  const pool = await IngestWorkerPool.start({ workers: 1 });
  const device = net.createServer((s) => {
    s.on('error', () => {});
    s.end(framed);
  });
  try {
    const passive = await pool.open({ streamId: 'tp', transport: 'tcp-passive', bindIp: '127.0.0.1', port: 0 });
    const out = collect(passive);
    const disconnected = new Promise<{ reason: string }>((r) => passive.once('disconnected', r));
    const sock = net.connect({ host: '127.0.0.1', port: passive.port });
    await once(sock, 'connect');
    const from = sock.localPort;
    sock.end(framed);
    assert.deepEqual(await disconnected, { reason: 'closed by peer' });
    await passive.flush();
    assertAllFrames(out, src);
    assert.equal(passive.stats().source, `127.0.0.1:${from}`);

    device.listen(0, '127.0.0.1');
    await once(device, 'listening');
    const active = await pool.open({ streamId: 'ta', transport: 'tcp-active', bindIp: '127.0.0.1', port: 0 });
    const outActive = collect(active);
    const bound = new Promise<{ host: string; port: number }>((r) => active.once('bound', r));
    await active.connect('127.0.0.1', (device.address() as net.AddressInfo).port);
    assert.equal((await bound).port, (device.address() as net.AddressInfo).port);
    await assert.rejects(active.connect('127.0.0.1', 1), InvalidStateError, 'a second connect is refused by the worker');
    await waitFor(() => active.stats().packets === toRtpPackets(src).flat().length, 'all packets over tcp-active');
    await active.flush();
    assertAllFrames(outActive, src);
    await assert.rejects(passive.connect('127.0.0.1', 1), TypeError);
  } finally {
    await pool.close();
    device.close();
  }
});

test('a worker that crashes fails its streams and a fresh worker takes new streams', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 50);
  const pool = await IngestWorkerPool.start({ workers: 1, workerUrl: FAULTY_WORKER });
  try {
    const healthy = await pool.open({ streamId: 'ok1', transport: 'udp', bindIp: '127.0.0.1', port: 0 });
    const firstThread = pool.info()[0]!.threadId;
    const failures: string[] = [];
    healthy.on('failed', ({ reason }) => failures.push(reason));
    const doomed = await pool.open({ streamId: 'crash1', transport: 'udp', bindIp: '127.0.0.1', port: 0 });
    const [{ reason }] = await new Promise<[{ reason: string }]>((r) => doomed.once('failed', (...a) => r(a)));
    assert.match(reason, /ingest worker 0 exited \(code 1: simulated ingest bug\)/);
    assert.deepEqual(failures, [reason], 'every stream of the dead worker fails');
    await doomed.close(); // closing a failed stream is quick and safe
    await healthy.flush();
    await assert.rejects(healthy.connect('127.0.0.1', 1), TypeError);

    // the port of a dead worker's stream is free again, and a new worker serves new streams
    const next = await pool.open({ streamId: 'ok2', transport: 'udp', bindIp: '127.0.0.1', port: healthy.port });
    assert.notEqual(pool.info()[0]!.threadId, firstThread);
    const out = collect(next);
    const packets = toRtpPackets(src).flat();
    await sendUdp(next.port, packets);
    await waitFor(() => next.stats().packets === packets.length, 'packets on the new worker');
    await next.flush();
    assertAllFrames(out, src);
  } finally {
    await pool.close();
  }
});

/**
 * Sends from another thread (so packets flow while this one is blocked), from one socket: round 1,
 * then `state` = 1; round 2 (paced, 2 ms a packet) once this thread sets `state` to 2; then `state` = 3.
 */
function senderThread(port: number, rounds: [Buffer[], Buffer[]], state: Int32Array): Worker {
  const code = `
    const { workerData } = require('node:worker_threads');
    const dgram = require('node:dgram');
    const sock = dgram.createSocket('udp4');
    function send(packets, paced, then) {
      let i = 0;
      (function next() {
        for (let k = 0; k < (paced ? 1 : 8) && i < packets.length; k++) sock.send(packets[i++], workerData.port, '127.0.0.1');
        if (i < packets.length) return paced ? setTimeout(next, 2) : setImmediate(next);
        setTimeout(then, 100);
      })();
    }
    send(workerData.rounds[0], false, () => {
      Atomics.store(workerData.state, 0, 1);
      (function waitGo() {
        if (Atomics.load(workerData.state, 0) !== 2) return setTimeout(waitGo, 10);
        send(workerData.rounds[1], true, () => { sock.close(); Atomics.store(workerData.state, 0, 3); });
      })();
    });`;
  const u8 = (ps: Buffer[]): Uint8Array[] => ps.map((p) => new Uint8Array(p));
  return new Worker(code, { eval: true, workerData: { port, rounds: [u8(rounds[0]), u8(rounds[1])], state } });
}

test('a worker whose main thread falls behind drops frames past maxInFlightBytes and resumes at a key frame', async () => {
  const src = await loadVideoAccessUnits({ codec: 'h264' });
  const perFrame = toRtpPackets(src);
  const round1 = perFrame.slice(0, 150).flat();
  const pool = await IngestWorkerPool.start({ workers: 1, maxInFlightBytes: 60_000 });
  try {
    const ingest = await pool.open({ streamId: 'slow', transport: 'udp', bindIp: '127.0.0.1', port: 0 });
    const out = collect(ingest);
    const state = new Int32Array(new SharedArrayBuffer(4));
    const sender = senderThread(ingest.port, [round1, perFrame.slice(150).flat()], state);
    await once(sender, 'online');
    // block this thread (as a stalled main thread would be) while frames 0-149 are sent
    const until = Date.now() + 30_000;
    while (Atomics.load(state, 0) === 0 && Date.now() < until) Atomics.wait(state, 0, 0, 20);
    Atomics.wait(state, 0, 1, 1000); // and give the worker time to read it all (it is not blocked)
    await waitFor(() => ingest.stats().packets === round1.length, 'round 1 counted');
    assert.ok(out.length > 0 && out.length < 150, `only the first frames got through while blocked (${out.length})`);
    // frame 150 is a key frame (GOP 50): the stream resumes there, whole
    Atomics.store(state, 0, 2);
    await waitFor(() => Atomics.load(state, 0) === 3, 'round 2 sent');
    await waitFor(() => ingest.stats().packets === perFrame.flat().length, 'round 2 counted');
    await ingest.flush();
    assert.ok(src[150]!.key);
    assert.ok(out.length < src.length, `frames were dropped (${out.length})`);
    assert.equal(ingest.stats().droppedFrames, src.length - out.length, 'every dropped frame is counted');
    assertAllFrames(out.slice(-100), src.slice(150));
  } finally {
    await pool.close();
  }
});

test('a worker that stops answering is terminated after requestTimeoutMs, failing its streams, and replaced', async () => {
  const pool = await IngestWorkerPool.start({ workers: 1, workerUrl: FAULTY_WORKER, requestTimeoutMs: 1000 });
  try {
    const firstThread = pool.info()[0]!.threadId;
    const stuck = await pool.open({ streamId: 'hang1', transport: 'udp', bindIp: '127.0.0.1', port: 0 });
    const failed = new Promise<{ reason: string }>((r) => stuck.once('failed', r));
    await assert.rejects(stuck.flush(), /ingest worker 0 did not answer flush within 1000 ms/);
    assert.match((await failed).reason, /did not answer flush within 1000 ms/);
    const next = await pool.open({ streamId: 'ok3', transport: 'udp', bindIp: '127.0.0.1', port: stuck.port });
    assert.notEqual(pool.info()[0]!.threadId, firstThread);
    await next.flush();
    await next.close();
  } finally {
    await pool.close();
  }
});

test('IngestWorkerPool.start() rejects a worker count below 1 with TypeError', async () => {
  await assert.rejects(IngestWorkerPool.start({ workers: 0 }), TypeError);
  await assert.rejects(IngestWorkerPool.start({ workers: 1.5 }), TypeError);
});
