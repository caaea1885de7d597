import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDevice } from './helpers/test-device.ts';
import { DEVICE_ID, MemoryCredentials, once, sleep, startServer } from './helpers/server.ts';
import type { PresenceEntry, PresenceStore } from '../src/types.ts';

class RecordingPresence implements PresenceStore {
  onlineCalls: PresenceEntry[][] = [];
  offlineCalls: string[][] = [];
  async setOnline(entries: PresenceEntry[]): Promise<void> {
    this.onlineCalls.push(entries);
  }
  async setOffline(ids: string[]): Promise<void> {
    this.offlineCalls.push(ids);
  }
}

test('a keepalive refreshes last-seen and the source address, even from another port', async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  const natted = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  try {
    assert.equal((await dev.register()).status, 200);
    const before = server.device(DEVICE_ID)!.lastSeen;
    await sleep(20);
    const seen = once(server, 'keepalive');
    assert.equal((await natted.keepalive(2)).status, 200);
    assert.equal((await seen).deviceId, DEVICE_ID);
    const d = server.device(DEVICE_ID)!;
    assert.ok(d.lastSeen > before);
    assert.equal(d.port, natted.localPort);
  } finally {
    await dev.close();
    await natted.close();
    await server.close();
  }
});

test('a Hikvision keepalive with Status inside Info and a lower-case CmdType is accepted', async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  try {
    await dev.register();
    const rs = await dev.message(
      `<?xml version="1.0"?>\n<Notify>\n<CmdType>keepalive</CmdType>\n<SN> 3 </SN>\n<DeviceID>${DEVICE_ID}</DeviceID>\n<Info><Status>OK</Status></Info>\n</Notify>\n`,
      'utf-8',
    );
    assert.equal(rs.status, 200);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('a keepalive from a device that is not registered gets 403 and does not make it online', async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  let online = 0;
  server.on('online', () => online++);
  try {
    const rs = await dev.keepalive(1);
    assert.equal(rs.status, 403);
    assert.equal(server.device(DEVICE_ID), undefined);
    assert.equal(online, 0);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('missed keepalives make a device offline, and its next keepalive brings it back online', async () => {
  const server = await startServer({ keepaliveTimeoutS: 0.3, timers: { sweepIntervalMs: 50 } });
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  try {
    await dev.register();
    const offline = await once(server, 'offline', 3000);
    assert.deepEqual(offline, { deviceId: DEVICE_ID, reason: 'keepalive-timeout' });
    assert.equal(server.device(DEVICE_ID)?.online, false);
    const back = once(server, 'online');
    assert.equal((await dev.keepalive(5)).status, 200);
    assert.equal((await back).deviceId, DEVICE_ID);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('an expired registration emits unregistered (expired) and offline (registration-expired)', async () => {
  const server = await startServer({ timers: { sweepIntervalMs: 50 } });
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  try {
    const unregistered = once(server, 'unregistered', 4000);
    const offline = once(server, 'offline', 4000);
    await dev.register({ expires: 1 });
    assert.equal((await unregistered).reason, 'expired');
    assert.equal((await offline).reason, 'registration-expired');
    assert.equal(server.device(DEVICE_ID), undefined);
    assert.equal((await dev.keepalive(9)).status, 403);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('presence reaches the PresenceStore in batches, not one call per keepalive', async () => {
  const ids = Array.from({ length: 10 }, (_, i) => `340200000013200001${String(i).padStart(2, '0')}`);
  const store = new RecordingPresence();
  const server = await startServer({
    presence: store,
    credentials: new MemoryCredentials(Object.fromEntries(ids.map((id) => [id, 'pw']))),
    timers: { presenceFlushMs: 300 },
  });
  const devs = await Promise.all(ids.map((deviceId) => TestDevice.open({ deviceId, password: 'pw', serverPort: server.port })));
  try {
    await Promise.all(devs.map((d) => d.register()));
    for (let round = 0; round < 5; round++) await Promise.all(devs.map((d) => d.keepalive(round)));
    await sleep(700);
    const calls = store.onlineCalls.length;
    assert.ok(calls >= 1 && calls <= 4, `setOnline called ${calls} times for 60 presence changes`);
    const seen = new Set(store.onlineCalls.flat().map((e) => e.deviceId));
    assert.equal(seen.size, 10);
    const e = store.onlineCalls.flat().find((x) => x.deviceId === ids[0])!;
    assert.equal(e.transport, 'udp');
    assert.equal(e.port, devs[0]!.localPort);
    assert.ok(e.expiresAt > Date.now());
    await devs[0]!.register({ expires: 0 });
    await sleep(500);
    assert.deepEqual(store.offlineCalls.flat(), [ids[0]]);
  } finally {
    await Promise.all(devs.map((d) => d.close()));
    await server.close();
  }
});
