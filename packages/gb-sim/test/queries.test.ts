import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSimulator, type DeviceQuirks, type SimulatedDevice } from '../src/index.ts';
import { SERVER_ID, startServer } from './support/server.ts';

async function withNvr(quirks: Partial<DeviceQuirks>, transport: 'udp' | 'tcp', run: (ctx: { server: Awaited<ReturnType<typeof startServer>>; deviceId: string; channelIds: string[]; device: SimulatedDevice }) => Promise<void>) {
  const server = await startServer({ passwords: () => 'pw' });
  const sim = await createSimulator({
    server: { host: '127.0.0.1', port: server.port }, serverId: SERVER_ID, kind: 'nvr', channels: 7, itemsPerMessage: 3, transport, password: 'pw', quirks,
  });
  try {
    await sim.start();
    const d = sim.devices[0]!;
    await run({ server, deviceId: d.deviceId, channelIds: d.channels.map((c) => c.channelId), device: d });
  } finally {
    await sim.close();
    await server.close();
  }
}

test('server.queryCatalog() receives the NVR catalog split over three messages, merged with names intact', async () => {
  await withNvr({}, 'udp', async ({ server, deviceId, channelIds }) => {
    const res = await server.queryCatalog(deviceId, { timeoutMs: 10_000 });
    assert.equal(res.sumNum, 7);
    assert.equal(res.complete, true);
    assert.deepEqual(res.items.map((i) => i.deviceId).sort(), [...channelIds].sort());
    assert.ok(res.items.every((i) => i.name?.startsWith('模拟通道')), JSON.stringify(res.items.map((i) => i.name)));
    assert.ok(res.items.every((i) => i.parentId === deviceId && i.status === 'ON'));
  });
});

test('GB2312 bodies, LF-only lines, one item per message and Status inside Info still give a merged catalog and counted keepalives over TCP', async () => {
  await withNvr({ gb2312: true, lfOnly: true, oneItemPerMessage: true, statusInInfo: true }, 'tcp', async ({ server, deviceId, channelIds, device }) => {
    const seen: string[] = [];
    server.on('keepalive', (k) => seen.push(k.deviceId));
    assert.equal(await device.keepalive(), true);
    assert.deepEqual(seen, [deviceId]);
    const res = await server.queryCatalog(deviceId, { timeoutMs: 10_000 });
    assert.equal(res.complete, true);
    assert.equal(res.items.length, channelIds.length);
    assert.ok(res.items.every((i) => i.name?.startsWith('模拟通道')), JSON.stringify(res.items.map((i) => i.name)));
  });
});

test('the simulated device answers DeviceInfo, DeviceStatus and RecordInfo', async () => {
  await withNvr({ gb2312: true }, 'udp', async ({ server, deviceId, channelIds }) => {
    const info = await server.queryDeviceInfo(deviceId, { timeoutMs: 10_000 });
    assert.equal(info.manufacturer, 'gb-sim');
    assert.equal(info.channel, 7);
    assert.match(info.deviceName ?? '', /^模拟录像机/);
    const status = await server.queryDeviceStatus(deviceId, { timeoutMs: 10_000 });
    assert.equal(status.result, 'OK');
    const end = new Date();
    end.setMinutes(0, 0, 0);
    const start = new Date(end.getTime() - 4 * 3600_000);
    const records = await server.queryRecordInfo(deviceId, channelIds[2]!, start, end, { timeoutMs: 10_000 });
    assert.equal(records.length, 8); // a 25-minute segment every 30 minutes over 4 hours
    assert.ok(records.every((r) => r.deviceId === channelIds[2]));
  });
});
