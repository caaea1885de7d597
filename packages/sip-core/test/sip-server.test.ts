import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { createSipServer, InvalidStateError, SipTransportError } from '../src/index.ts';
import { TestDevice } from './helpers/test-device.ts';
import { DEVICE_ID, MemoryCredentials, SERVER_ID, once, startServer } from './helpers/server.ts';

test('createSipServer rejects bad options with TypeError', async () => {
  const base = { serverId: SERVER_ID, host: '127.0.0.1', port: 0, publicIp: '127.0.0.1', registerPolicy: 'known' as const, keepaliveTimeoutS: 180, nonceSecret: 's', credentials: new MemoryCredentials() };
  await assert.rejects(createSipServer({ ...base, serverId: '123' }), TypeError);
  await assert.rejects(createSipServer({ ...base, registerPolicy: 'open' }), TypeError, 'open needs a global password');
  await assert.rejects(createSipServer({ ...base, nonceSecret: '' }), TypeError);
});

test('port 0 gives one ephemeral port that answers on UDP and TCP', async () => {
  const server = await startServer();
  try {
    assert.ok(server.port > 0);
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    udp.close();
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: server.port }, () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
  } finally {
    await server.close();
  }
});

test('forget() drops a registered device so its keepalives are refused and it must register again', async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  try {
    assert.equal((await dev.register()).status, 200);
    assert.equal(server.devices().length, 1);
    const pending = server.queryDeviceInfo(DEVICE_ID, { timeoutMs: 5000 });
    server.forget(DEVICE_ID);
    await assert.rejects(pending, /not registered/);
    assert.equal(server.device(DEVICE_ID), undefined);
    assert.equal((await dev.keepalive(1)).status, 403);
    const again = once(server, 'registered');
    assert.equal((await dev.register()).status, 200);
    assert.equal((await again).refresh, false);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('close() is idempotent, rejects pending queries and later calls with InvalidStateError', async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  dev.onRequest = () => null;
  assert.equal((await dev.register()).status, 200);
  const pending = server.queryCatalog(DEVICE_ID, { timeoutMs: 10000 });
  await Promise.all([server.close(), server.close()]);
  await assert.rejects(pending, InvalidStateError);
  await assert.rejects(server.queryCatalog(DEVICE_ID), InvalidStateError);
  assert.throws(() => server.restoreDialog({ callId: 'x' } as never), InvalidStateError);
  await dev.close();
});

test('createSipServer rejects when the port is taken', async () => {
  const first = await startServer();
  try {
    await assert.rejects(startServer({ port: first.port }), /EADDRINUSE/);
  } finally {
    await first.close();
  }
});

test('a request to a TCP device whose connection is gone fails fast with SipTransportError', async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port, transport: 'tcp' });
  try {
    assert.equal((await dev.register()).status, 200);
    await dev.close();
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await assert.rejects(server.queryDeviceInfo(DEVICE_ID, { timeoutMs: 8000 }), SipTransportError);
    assert.ok(Date.now() - t0 < 4000);
  } finally {
    await server.close();
  }
});
