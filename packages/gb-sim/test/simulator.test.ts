import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { createSimulator } from '../src/index.ts';
import { SERVER_ID, startServer, waitFor } from './support/server.ts';

/** A bare UDP socket that talks to the simulated device the way a server would, keeping every reply. */
async function udpProbe(): Promise<{ probe: dgram.Socket; replies: string[] }> {
  const probe = dgram.createSocket('udp4');
  const replies: string[] = [];
  probe.on('message', (m) => replies.push(m.toString('latin1')));
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  return { probe, replies };
}

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

test('garbage, headerless requests and requests for unknown ids are dropped or refused without stopping the device', async () => {
  const server = await startServer({ passwords: () => 'x' });
  const sim = await createSimulator({ server: { host: '127.0.0.1', port: server.port }, devices: 1, password: 'x' });
  const { probe, replies } = await udpProbe();
  try {
    await sim.start();
    const port = sim.devices[0]!.link.localPort;
    const send = (s: string) => probe.send(Buffer.from(s, 'latin1'), port, '127.0.0.1');
    send('\x00\x01 not sip at all');
    send('MESSAGE sip:34020000001320000001@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n');
    send('MESSAGE sip:34020000001329999999@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\n' +
      'To: <sip:34020000001329999999@b>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n');
    send('MESSAGE sip:34020000001320000001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKy\r\nFrom: <sip:a@b>;tag=1\r\n' +
      'To: <sip:34020000001320000001@b>\r\nCall-ID: c2\r\nCSeq: 1 MESSAGE\r\nContent-Length: 9\r\n\r\n<Query><x');
    await waitFor(() => replies.length >= 2, 5000, 'two replies');
    assert.ok(replies.some((r) => r.startsWith('SIP/2.0 404')), 'unknown id refused with 404');
    assert.ok(replies.some((r) => r.startsWith('SIP/2.0 200')), 'an unparsable MANSCDP body is still acknowledged');
    const info = await server.queryDeviceInfo('34020000001320000001', { timeoutMs: 5000 });
    assert.equal(info.manufacturer, 'gb-sim');
  } finally {
    probe.close();
    await sim.close();
    await server.close();
  }
});

test('a retransmitted query MESSAGE gets the same 200 again and is answered only once', async () => {
  const server = await startServer({ passwords: () => 'x' });
  const sim = await createSimulator({ server: { host: '127.0.0.1', port: server.port }, devices: 1, password: 'x' });
  const { probe, replies } = await udpProbe();
  try {
    await sim.start();
    let answered = 0;
    sim.devices[0]!.on('query', () => answered++);
    const body = '<?xml version="1.0"?>\r\n<Query><CmdType>DeviceStatus</CmdType><SN>5</SN><DeviceID>34020000001320000001</DeviceID></Query>\r\n';
    const rq = Buffer.from(
      'MESSAGE sip:34020000001320000001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKretrans\r\nFrom: <sip:34020000002000000001@3402000000>;tag=1\r\n' +
      `To: <sip:34020000001320000001@3402000000>\r\nCall-ID: r1\r\nCSeq: 7 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      'latin1',
    );
    probe.send(rq, sim.devices[0]!.link.localPort, '127.0.0.1');
    await waitFor(() => replies.length === 1, 5000, 'first 200');
    probe.send(rq, sim.devices[0]!.link.localPort, '127.0.0.1');
    await waitFor(() => replies.length === 2, 5000, 'repeated 200');
    assert.equal(replies[1], replies[0]);
    await waitFor(() => answered === 1, 5000, 'the DeviceStatus answer');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(answered, 1);
  } finally {
    probe.close();
    await sim.close();
    await server.close();
  }
});

test('a mixed fleet (nvrs: 1 of 3) registers two single-channel IPCs and one NVR whose catalog has its own channels', async () => {
  const server = await startServer({ passwords: () => 'x' });
  const sim = await createSimulator({ server: { host: '127.0.0.1', port: server.port }, devices: 3, nvrs: 1, channels: 3, password: 'x' });
  try {
    await sim.start();
    assert.deepEqual(sim.devices.map((d) => `${d.kind}:${d.deviceId}`), [
      'ipc:34020000001320000001', 'ipc:34020000001320000002', 'nvr:34020000001180000001',
    ]);
    const all = sim.devices.flatMap((d) => d.channels.map((c) => c.channelId));
    assert.equal(new Set(all).size, 5, 'channel ids unique across the fleet');
    const nvr = await server.queryCatalog('34020000001180000001', { timeoutMs: 10_000 });
    assert.deepEqual(nvr.items.map((i) => i.deviceId).sort(), sim.devices[2]!.channels.map((c) => c.channelId).sort());
    const ipc = await server.queryCatalog('34020000001320000002', { timeoutMs: 10_000 });
    assert.equal(ipc.items.length, 1);
  } finally {
    await sim.close();
    await server.close();
  }
});
