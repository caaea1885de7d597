// Benchmark (not a test): time from POST /channels/:id/streams to the answer carrying the URLs, on
// loopback, against the real gateway process and a simulated camera, per transport.
//   node --import tsx bench/play-latency.ts [rounds=10]
import { createSimulator, type Simulator } from '@gb28181/gb-sim';
import { createMediaCalls } from '../packages/gb-sim/src/media-calls.ts';
import { ensureFixture } from '../packages/media/test/support/fixtures.ts';
import { removeDataDir, startGateway } from '../packages/gateway-api/test/support/e2e-gateway.ts';

const rounds = Number(process.argv[2] ?? 10);
const gw = await startGateway({ env: { GB_LOG_LEVEL: 'error' } });
let sim: Simulator | undefined;
try {
  const deviceid = '34020000001320000901';
  await gw.request('POST', '/devices', { deviceid, pwd: 'bench-pass-1' });
  const file = await ensureFixture({ codec: 'h264', seconds: 4, fps: 25, gop: 25, width: 640, height: 360 });
  sim = await createSimulator({
    server: { host: '127.0.0.1', port: gw.sipPort },
    firstId: deviceid,
    password: 'bench-pass-1',
    calls: (s) => createMediaCalls(s, { file, codec: 'h264' }),
  });
  await sim.start();
  let channel = '';
  for (let i = 0; i < 100 && !channel; i++) {
    const r = await gw.request<{ list: { channelid: string }[] }>('GET', `/devices/${deviceid}/channels`);
    channel = r.data?.list?.[0]?.channelid ?? '';
    if (!channel) await new Promise((res) => setTimeout(res, 100));
  }
  if (!channel) throw new Error('catalog did not sync');
  for (const mode of ['udp', 'tcp-passive', 'tcp-active']) {
    await gw.request('POST', `/devices/${deviceid}`, { stream_mode: mode });
    const ms: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      const r = await gw.request<{ streamid: string }>('POST', `/channels/${channel}/streams`, { replay: 0 });
      if (r.status !== 200) throw new Error(`play failed: ${JSON.stringify(r)}`);
      ms.push(performance.now() - t0);
      await gw.request('DELETE', `/streams/${r.data.streamid}`);
    }
    ms.sort((a, b) => a - b);
    const p = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(0);
    console.log(`${mode.padEnd(12)} POST->URL over ${rounds} plays: p50 ${p(0.5)} ms, p90 ${p(0.9)} ms, max ${p(1)} ms (the simulated camera starts each call on a key frame)`);
  }
} finally {
  await sim?.close();
  await gw.stop();
  removeDataDir(gw);
}
