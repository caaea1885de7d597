// GB_REGISTER_POLICY=open: a camera nobody created through the API registers with the global
// password, appears in GET /devices with its catalog, and plays.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSimulator, type Simulator } from '@gb28181/gb-sim';
import { createMediaCalls } from '../../gb-sim/src/media-calls.ts';
import { ensureFixture } from '../../media/test/support/fixtures.ts';
import { missingWiring, removeDataDir, startGateway, type GatewayProcess } from './support/e2e-gateway.ts';

let gw: GatewayProcess | undefined;
let sim: Simulator | undefined;

after(async () => {
  await sim?.close().catch(() => undefined);
  await gw?.stop();
  if (gw) removeDataDir(gw);
});

test('an unknown camera registering with the global password is stored with its channels and plays', { timeout: 90_000 }, async (t) => {
  const g = await startGateway({ env: { GB_REGISTER_POLICY: 'open', GB_SIP_PASSWORD: 'global-pass-9' } });
  gw = g;
  const notWired = await missingWiring(g);
  if (notWired) return t.skip(notWired);
  const file = await ensureFixture({ codec: 'h264', seconds: 4, fps: 25, gop: 25, width: 320, height: 240 });
  const deviceId = '34020000001320000555';
  sim = await createSimulator({
    server: { host: '127.0.0.1', port: g.sipPort },
    firstId: deviceId,
    password: 'global-pass-9',
    calls: (s) => createMediaCalls(s, { file, codec: 'h264' }),
  });
  await sim.start();
  let channelId = '';
  for (let i = 0; i < 100 && !channelId; i++) {
    const r = await g.request<{ list: { channelid: string }[] }>('GET', `/devices/${deviceId}/channels`);
    channelId = r.status === 200 ? (r.data.list[0]?.channelid ?? '') : '';
    if (!channelId) await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(channelId, `catalog of ${deviceId} synced:\n${g.output().slice(-2000)}`);
  const dev = await g.request<{ online: boolean; host: string }>('GET', `/devices/${deviceId}`);
  assert.equal(dev.data.online, true);
  assert.equal(dev.data.host, '127.0.0.1');
  const played = await g.request<{ streamid: string; status: string }>('POST', `/channels/${channelId}/streams`, { replay: 0 });
  assert.equal(played.status, 200, JSON.stringify(played));
  assert.equal(played.data.status, 'playing');
});
