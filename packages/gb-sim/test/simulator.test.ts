import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSimulator } from '../src/index.ts';
import { SERVER_ID, startServer, waitFor } from './support/server.ts';

for (const transport of ['udp', 'tcp'] as const) {
  test(`simulator.start() registers every device with digest over ${transport}, and keepalives reach the server`, async () => {
    const server = await startServer({ passwords: () => 'pw-all' });
    const keepalives = new Set<string>();
    server.on('keepalive', (k) => keepalives.add(k.deviceId));
    const sim = await createSimulator({
      server: { host: '127.0.0.1', port: server.port }, serverId: SERVER_ID, devices: 5, transport, password: 'pw-all', keepaliveS: 1, udpSockets: 2,
    });
    try {
      const stats = await sim.start();
      assert.equal(stats.registered, 5);
      assert.equal(stats.registerFailures, 0);
      for (const d of sim.devices) {
        const r = server.device(d.deviceId);
        assert.ok(r?.online, `${d.deviceId} online on the server`);
        assert.equal(r.transport, transport);
      }
      await waitFor(() => keepalives.size === 5, 10_000, 'a keepalive from every device');
      // The device counts a keepalive when its 200 arrives, just after the server's event.
      await waitFor(() => sim.stats().keepalivesOk >= 5, 5000, 'five answered keepalives');
    } finally {
      await sim.close({ unregister: true });
      await server.close();
    }
  });
}

test('simulator.close({ unregister: true }) sends Expires 0 and the server takes the devices offline', async () => {
  const server = await startServer({ passwords: () => 'x' });
  const sim = await createSimulator({ server: { host: '127.0.0.1', port: server.port }, devices: 2, password: 'x' });
  const offline: string[] = [];
  server.on('unregistered', (u) => offline.push(u.deviceId));
  try {
    await sim.start();
    assert.equal(server.devices().filter((d) => d.online).length, 2);
  } finally {
    await sim.close({ unregister: true });
  }
  await waitFor(() => offline.length === 2, 5000, 'two unregistered events');
  await server.close();
});

test('a device with the wrong password is refused and counted as a failure', async () => {
  const server = await startServer({ passwords: { '34020000001320000001': 'right' } });
  const sim = await createSimulator({ server: { host: '127.0.0.1', port: server.port }, devices: 1, password: 'wrong' });
  try {
    const stats = await sim.start();
    assert.equal(stats.registerFailures, 1);
    assert.equal(stats.registered, 0);
    assert.equal(server.device('34020000001320000001')?.online ?? false, false);
  } finally {
    await sim.close();
    await server.close();
  }
});
