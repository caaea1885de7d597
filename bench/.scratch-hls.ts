import { createSimulator } from '@gb28181/gb-sim';
import { createMediaCalls } from '../packages/gb-sim/src/media-calls.ts';
import { ensureFixture } from '../packages/media/test/support/fixtures.ts';
import { removeDataDir, startGateway } from '../packages/gateway-api/test/support/e2e-gateway.ts';
import { ffprobeFrames } from '../packages/gateway-api/test/support/e2e-media.ts';
const gw = await startGateway({ env: { GB_LOG_LEVEL: 'info' } });
const deviceid = '34020000001320000901';
await gw.request('POST', '/devices', { deviceid, pwd: 'bench-pass-1' });
const file = await ensureFixture({ codec: 'h264', seconds: 4, fps: 25, gop: 25, width: 320, height: 240 });
const sim = await createSimulator({ server: { host: '127.0.0.1', port: gw.sipPort }, firstId: deviceid, password: 'bench-pass-1', calls: (s) => createMediaCalls(s, { file, codec: 'h264' }) });
await sim.start();
await new Promise((r) => setTimeout(r, 1500));
const ch = (await gw.request<any>('GET', `/devices/${deviceid}/channels`)).data.list[0].channelid;
const r = await gw.request<any>('POST', `/channels/${ch}/streams`, { replay: 0 });
console.log(r.status, r.data.http);
for (let i = 0; i < 4; i++) {
  await new Promise((res) => setTimeout(res, 2000));
  const res = await fetch(r.data.http);
  console.log(res.status, (await res.text()).slice(0, 400));
}
console.log(await ffprobeFrames(r.data.http, 20000));
await sim.close(); await gw.stop(); console.log(gw.output().slice(-3000)); removeDataDir(gw);
