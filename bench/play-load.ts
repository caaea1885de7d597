// Benchmark (not a test): 200 simultaneous live plays across 50 simulated devices (4 channels
// each, an NVR shape), against the real gateway process on loopback. Reports the success rate,
// the total time until every POST answered, and the latency spread.
//   node --import tsx bench/play-load.ts [devices=50] [channels=4] [mode=udp]
import { createSimulator, deviceIdAt, type Simulator } from '@gb28181/gb-sim';
import { createMediaCalls } from '../packages/gb-sim/src/media-calls.ts';
import { ensureFixture } from '../packages/media/test/support/fixtures.ts';
import { removeDataDir, startGateway } from '../packages/gateway-api/test/support/e2e-gateway.ts';

const devices = Number(process.argv[2] ?? 50);
const perDevice = Number(process.argv[3] ?? 4);
const mode = process.argv[4] ?? 'udp';
const FIRST = '34020000001180000501';
const PASS = 'load-pass-123';

const gw = await startGateway({ env: { GB_LOG_LEVEL: 'error', GB_PLAY_TIMEOUT_S: '30' }, rtpPortCount: devices * perDevice + 50 });
let sim: Simulator | undefined;
try {
  const ids = Array.from({ length: devices }, (_, i) => deviceIdAt(FIRST, i));
  for (const deviceid of ids) {
    await gw.request('POST', '/devices', { deviceid, pwd: PASS });
    await gw.request('POST', `/devices/${deviceid}`, { stream_mode: mode });
  }
  // Low resolution, 10 fps: the point is signalling and port handling under load, not bandwidth.
  const file = await ensureFixture({ codec: 'h264', seconds: 4, fps: 10, gop: 10, width: 320, height: 240 });
  sim = await createSimulator({
    server: { host: '127.0.0.1', port: gw.sipPort },
    firstId: FIRST,
    devices,
    kind: 'nvr',
    channels: perDevice,
    password: PASS,
    calls: (s) => createMediaCalls(s, { file, codec: 'h264', fps: 10 }),
  });
  await sim.start();
  let channels: string[] = [];
  for (let i = 0; i < 300; i++) {
    const r = await gw.request<{ total: number; list: { channelid: string }[] }>('GET', '/channels?limit=1000');
    channels = r.data?.list?.map((c) => c.channelid) ?? [];
    if (channels.length >= devices * perDevice) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  console.log(`${devices} devices, ${channels.length} channels synced; ${mode}`);
  const t0 = performance.now();
  const results = await Promise.all(
    channels.map(async (ch) => {
      const t = performance.now();
      const r = await gw.request<{ streamid: string }>('POST', `/channels/${ch}/streams`, { replay: 0 }).catch((err: Error) => ({ status: 0, code: '', data: { streamid: '' }, err }));
      return { ok: r.status === 200, ms: performance.now() - t, err: r.status === 200 ? '' : JSON.stringify(r.data).slice(0, 120) };
    }),
  );
  const total = performance.now() - t0;
  const ok = results.filter((r) => r.ok);
  const ms = ok.map((r) => r.ms).sort((a, b) => a - b);
  const p = (q: number) => (ms.length ? ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(0) : '-');
  console.log(`${ok.length}/${results.length} plays succeeded (${((100 * ok.length) / results.length).toFixed(1)} %), all answered in ${(total / 1000).toFixed(1)} s; per play p50 ${p(0.5)} ms, p90 ${p(0.9)} ms, max ${p(1)} ms`);
  const errors = new Map<string, number>();
  for (const r of results) if (!r.ok) errors.set(r.err, (errors.get(r.err) ?? 0) + 1);
  for (const [e, n] of errors) console.log(`  ${n} x ${e}`);
} finally {
  await sim?.close();
  await gw.stop();
  removeDataDir(gw);
}
