import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createMediaEngine, type MediaEngine } from '../../src/media-engine.ts';
import type { MediaEngineOptions } from '../../src/types.ts';

/** A random 40-port window so test files running in parallel rarely probe the same ports. */
export function randomRtpRange(): [number, number] {
  const base = 40000 + Math.floor(Math.random() * 500) * 40;
  return [base, base + 39];
}

export async function testEngine(over: Partial<MediaEngineOptions> = {}): Promise<{ engine: MediaEngine; dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'media-engine-'));
  const engine = await createMediaEngine({
    bindIp: '127.0.0.1',
    rtpPorts: randomRtpRange(),
    httpPort: 0,
    rtmpPort: 0,
    dataDir,
    // GB_TEST_HLS_MUXER=mediabunny runs the same tests through the mediabunny segmenter
    hls: { segmentSeconds: 2, playlistSize: 10, muxer: process.env.GB_TEST_HLS_MUXER === 'mediabunny' ? 'mediabunny' : 'native' },
    noViewerCloseS: 60,
    firstPacketTimeoutS: 60,
    idleTimeoutS: 1,
    // GB_TEST_INGEST_WORKERS=K runs the same tests with the ingest in K worker threads
    ingestWorkers: Number(process.env.GB_TEST_INGEST_WORKERS ?? 0),
    // GB_TEST_UDP_RECEIVE=dgram runs the same tests with RTP over UDP read by node:dgram (default: udp-batch)
    udpReceive: process.env.GB_TEST_UDP_RECEIVE === 'dgram' ? 'dgram' : undefined,
    logger: pino({ level: process.env.TEST_LOG ?? 'silent' }),
    ...over,
  });
  return { engine, dataDir };
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 15000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The next emission of `event` (TypedEmitter is not a node EventEmitter, so events.once does not apply). */
export function nextEvent<A extends unknown[]>(
  emitter: { once(event: string, listener: (...args: A) => void): unknown },
  event: string,
  timeoutMs = 20000,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (...args: A) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}
