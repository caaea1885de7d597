import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import type { AccessUnit } from '../src/access-unit.ts';
import { RtpPsIngest } from '../src/rtp-ps-ingest.ts';
import { InvalidStateError } from '../src/errors.ts';
import { RtpReceiver, type UdpReceivePath } from '../src/rtp-receiver.ts';
import { udpBatchAvailable } from '@gb28181/udp-batch';
import { frameInterleaved, frameRfc4571 } from '../src/rtp-packetizer.ts';
import { loadVideoAccessUnits, seededRandom, shuffleWithin, toRtpPackets } from './support/fixtures.ts';

// GB_TEST_UDP_RECEIVE=dgram runs the UDP tests on node:dgram (rtp-receiver-dgram.test.ts); default: the batch path
const udpReceive = process.env.GB_TEST_UDP_RECEIVE as UdpReceivePath | undefined;
const expectedPath: UdpReceivePath = udpReceive === 'dgram' || !udpBatchAvailable() ? 'dgram' : 'batch';

async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function ingestFrom(rx: RtpReceiver): { out: AccessUnit[]; ingest: RtpPsIngest } {
  const out: AccessUnit[] = [];
  const ingest = new RtpPsIngest({ onAccessUnit: (au) => out.push(au) });
  rx.on('packet', (p) => ingest.input(p));
  return { out, ingest };
}

function assertAllFrames(out: AccessUnit[], src: AccessUnit[]): void {
  assert.equal(out.length, src.length);
  assert.equal(out.filter((a) => a.key).length, src.filter((a) => a.key).length);
  for (let i = 0; i < src.length; i++) assert.ok(out[i].data.equals(src[i].data) && out[i].pts === src[i].pts, `frame ${i}`);
}

/** Paced so a loopback receive buffer never overflows even on a loaded machine. */
async function sendUdp(sock: dgram.Socket, port: number, packets: Buffer[]): Promise<void> {
  for (let i = 0; i < packets.length; i++) {
    sock.send(packets[i], port, '127.0.0.1');
    if (i % 8 === 7) await tick();
  }
}

async function writeTcp(sock: net.Socket, data: Buffer[]): Promise<void> {
  for (let i = 0; i < data.length; i += 64) {
    if (!sock.write(Buffer.concat(data.slice(i, i + 64)))) await once(sock, 'drain');
  }
}

test('RtpReceiver over UDP delivers all 250 H.264 frames of the fixture to RtpPsIngest', async () => {
  const src = await loadVideoAccessUnits({ codec: 'h264' });
  const packets = toRtpPackets(src, { ssrc: 0 }).flat(); // SSRC 0, as some devices send
  const rx = await RtpReceiver.open({ transport: 'udp', udpReceive, bindIp: '127.0.0.1', port: 0 });
  const tx = dgram.createSocket('udp4');
  try {
    assert.ok(rx.port > 0);
    const { out, ingest } = ingestFrom(rx);
    const bound = new Promise<{ host: string; port: number }>((resolve) => rx.once('bound', resolve));
    await sendUdp(tx, rx.port, packets);
    await waitFor(() => rx.stats.packets === packets.length, 'all packets');
    ingest.flush();
    const who = await bound;
    assert.equal(who.host, '127.0.0.1');
    assert.equal(rx.stats.source, `127.0.0.1:${who.port}`);
    assert.ok(rx.stats.firstPacketAt! > 0);
    assert.equal(rx.stats.bytes, packets.reduce((n, p) => n + p.length, 0));
    assertAllFrames(out, src);
  } finally {
    tx.close();
    await rx.close();
  }
});

test('RtpReceiver over UDP with reordered and dropped packets loses only the frames hit', async () => {
  const src = await loadVideoAccessUnits({ codec: 'h264' });
  const perFrame = toRtpPackets(src, { initialSeq: 65_400 });
  const hit = new Set([10, 60, 61, 130, 248]);
  const sent = shuffleWithin(perFrame.flatMap((pkts, i) => (hit.has(i) ? pkts.slice(1) : pkts)), 10, seededRandom(8));
  const rx = await RtpReceiver.open({ transport: 'udp', udpReceive, bindIp: '127.0.0.1', port: 0 });
  const tx = dgram.createSocket('udp4');
  try {
    const { out, ingest } = ingestFrom(rx);
    await sendUdp(tx, rx.port, sent);
    await waitFor(() => rx.stats.packets === sent.length, 'all packets');
    ingest.flush();
    assertAllFrames(out, src.filter((_, i) => !hit.has(i)));
    assert.equal(ingest.stats.lost, hit.size);
  } finally {
    tx.close();
    await rx.close();
  }
});

test('RtpReceiver over UDP binds to the first source and drops a second sender and garbage', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 50);
  const good = toRtpPackets(src).flat();
  const intruder = toRtpPackets(src, { ssrc: 99 }).flat().slice(0, 20);
  const rx = await RtpReceiver.open({ transport: 'udp', udpReceive, bindIp: '127.0.0.1', port: 0 });
  const a = dgram.createSocket('udp4');
  const b = dgram.createSocket('udp4');
  try {
    const { out, ingest } = ingestFrom(rx);
    a.send(good[0], rx.port, '127.0.0.1');
    await waitFor(() => rx.stats.packets === 1, 'first packet');
    await sendUdp(b, rx.port, intruder);
    a.send(Buffer.from('not rtp at all'), rx.port, '127.0.0.1');
    await sendUdp(a, rx.port, good.slice(1));
    await waitFor(() => rx.stats.packets === good.length && rx.stats.dropped === intruder.length + 1, 'packets and drops');
    ingest.flush();
    assertAllFrames(out, src);
  } finally {
    a.close();
    b.close();
    await rx.close();
  }
});

test('RtpReceiver tcp-passive reads RFC 4571 framing from the first connection and rejects a second', async () => {
  const src = await loadVideoAccessUnits({ codec: 'h265' });
  const framed = toRtpPackets(src).flat().map(frameRfc4571);
  const rx = await RtpReceiver.open({ transport: 'tcp-passive', bindIp: '127.0.0.1', port: 0 });
  const sock = net.connect({ host: '127.0.0.1', port: rx.port });
  try {
    const { out, ingest } = ingestFrom(rx);
    await once(sock, 'connect');
    await waitFor(() => rx.stats.source !== undefined, 'bound');
    const second = net.connect({ host: '127.0.0.1', port: rx.port });
    second.on('error', () => {});
    await once(second, 'close');
    assert.equal(rx.stats.dropped, 1);
    await writeTcp(sock, framed);
    await waitFor(() => rx.stats.packets === framed.length, 'all packets');
    ingest.flush();
    assertAllFrames(out, src);
    assert.equal(ingest.stats.videoCodec, 'h265');
  } finally {
    sock.destroy();
    await rx.close();
  }
});

test('RtpReceiver tcp-active dials the device and tolerates $-interleaved framing', async () => {
  const src = await loadVideoAccessUnits({ codec: 'h264' });
  const framed = toRtpPackets(src).flat().map((p, i) => (i % 2 === 0 ? frameInterleaved(p) : frameRfc4571(p)));
  let dialledFrom = 0;
  const device = net.createServer((s) => {
    dialledFrom = s.remotePort ?? -1;
    s.on('error', () => {});
    void writeTcp(s, framed);
  });
  device.listen(0, '127.0.0.1');
  await once(device, 'listening');
  const rx = await RtpReceiver.open({ transport: 'tcp-active', bindIp: '127.0.0.1', port: 0 });
  try {
    assert.ok(rx.port > 0);
    const { out, ingest } = ingestFrom(rx);
    await rx.connect('127.0.0.1', (device.address() as net.AddressInfo).port);
    await waitFor(() => dialledFrom !== 0, 'device accepted');
    assert.equal(dialledFrom, rx.port, 'dials from the port offered in the SDP');
    await waitFor(() => rx.stats.packets === framed.length, 'all packets');
    ingest.flush();
    assertAllFrames(out, src);
  } finally {
    await rx.close();
    await new Promise((r) => device.close(r));
  }
});

test('RtpReceiver tcp-passive accepts the same host again after its connection ends', async () => {
  const src = (await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 100);
  const framed = toRtpPackets(src).flat().map(frameRfc4571);
  const half = toRtpPackets(src.slice(0, 50)).flat().length; // the second GOP starts a new connection
  const rx = await RtpReceiver.open({ transport: 'tcp-passive', bindIp: '127.0.0.1', port: 0 });
  try {
    const { out, ingest } = ingestFrom(rx);
    const disconnected = new Promise<{ reason: string }>((resolve) => rx.once('disconnected', resolve));
    const first = net.connect({ host: '127.0.0.1', port: rx.port });
    await once(first, 'connect');
    await writeTcp(first, framed.slice(0, half));
    await waitFor(() => rx.stats.packets === half, 'first half');
    first.end();
    assert.equal((await disconnected).reason, 'closed by peer');
    const second = net.connect({ host: '127.0.0.1', port: rx.port });
    await once(second, 'connect');
    await writeTcp(second, framed.slice(half));
    await waitFor(() => rx.stats.packets === framed.length, 'second half');
    second.destroy();
    ingest.flush();
    assertAllFrames(out, src);
    assert.equal(rx.stats.dropped, 0);
  } finally {
    await rx.close();
  }
});

test('RtpReceiver.connect() after close() rejects with InvalidStateError', async () => {
  const rx = await RtpReceiver.open({ transport: 'tcp-active', bindIp: '127.0.0.1', port: 0 });
  await rx.close();
  await assert.rejects(rx.connect('127.0.0.1', 9), InvalidStateError);
});

test('RtpReceiver.close() is idempotent, emits close once and frees the port', async () => {
  const rx = await RtpReceiver.open({ transport: 'udp', udpReceive, bindIp: '127.0.0.1', port: 0 });
  let closes = 0;
  rx.on('close', () => closes++);
  await Promise.all([rx.close(), rx.close()]);
  await rx.close();
  assert.equal(closes, 1);
  const again = await RtpReceiver.open({ transport: 'udp', udpReceive, bindIp: '127.0.0.1', port: rx.port });
  await again.close();
});

test('RtpReceiver.open() rejects a bad transport or port with TypeError', async () => {
  await assert.rejects(RtpReceiver.open({ transport: 'sctp' as 'udp', bindIp: '127.0.0.1', port: 0 }), TypeError);
  await assert.rejects(RtpReceiver.open({ transport: 'udp', udpReceive, bindIp: '127.0.0.1', port: 70000 }), TypeError);
});

test(`RtpReceiver over UDP reads with the ${expectedPath} path`, async () => {
  const rx = await RtpReceiver.open({ transport: 'udp', udpReceive, bindIp: '127.0.0.1', port: 0 });
  try {
    assert.equal(rx.udpReceive, expectedPath);
  } finally {
    await rx.close();
  }
});

test('RtpReceiver over UDP drops a datagram longer than 9216 bytes whole and counts it', async () => {
  const [first, ...rest] = toRtpPackets((await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 5)).flat();
  const huge = Buffer.alloc(60_000, 0xab);
  first!.copy(huge); // a valid RTP header: only its size is wrong
  const rx = await RtpReceiver.open({ transport: 'udp', udpReceive, bindIp: '127.0.0.1', port: 0 });
  const tx = dgram.createSocket('udp4');
  try {
    await sendUdp(tx, rx.port, [first!, huge, ...rest]);
    await waitFor(() => rx.stats.packets === rest.length + 1 && rx.stats.dropped === 1, 'packets and the drop');
    assert.equal(rx.stats.bytes, first!.length + rest.reduce((n, p) => n + p.length, 0));
  } finally {
    tx.close();
    await rx.close();
  }
});

test('RtpReceiver over UDP rejects a port in use with EADDRINUSE', async () => {
  const holder = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', () => resolve()));
  try {
    await assert.rejects(RtpReceiver.open({ transport: 'udp', udpReceive, bindIp: '127.0.0.1', port: holder.address().port }), { code: 'EADDRINUSE' });
  } finally {
    holder.close();
  }
});

test('RtpReceiver.close() while datagrams flow emits no packet after close and frees the port', async () => {
  const packets = toRtpPackets(await loadVideoAccessUnits({ codec: 'h264' })).flat();
  const rx = await RtpReceiver.open({ transport: 'udp', udpReceive, bindIp: '127.0.0.1', port: 0 });
  const tx = dgram.createSocket('udp4');
  let closed = false;
  let afterClose = 0;
  rx.on('packet', () => {
    if (closed) afterClose++;
  });
  const flowing = (async () => {
    for (let i = 0; i < packets.length; i++) {
      tx.send(packets[i]!, rx.port, '127.0.0.1');
      if (i % 16 === 15) await tick();
    }
  })();
  try {
    await waitFor(() => rx.stats.packets > 100, 'packets flowing');
    const closing = rx.close();
    closed = true;
    await closing;
    await flowing;
    await sleep(50);
    assert.equal(afterClose, 0);
    const again = await RtpReceiver.open({ transport: 'udp', udpReceive, bindIp: '127.0.0.1', port: rx.port });
    await again.close();
  } finally {
    tx.close();
    await rx.close();
  }
});

test('RtpReceiver over UDP on ::1 binds to the IPv6 source', async (t) => {
  const probe = dgram.createSocket('udp6');
  const v6 = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.bind(0, '::1', () => resolve(true));
  });
  probe.close();
  if (!v6) return t.skip('no IPv6 loopback here');
  const packets = toRtpPackets((await loadVideoAccessUnits({ codec: 'h264' })).slice(0, 5)).flat();
  const rx = await RtpReceiver.open({ transport: 'udp', udpReceive, bindIp: '::1', port: 0 });
  const tx = dgram.createSocket('udp6');
  try {
    const bound = new Promise<{ host: string; port: number }>((resolve) => rx.once('bound', resolve));
    for (const p of packets) tx.send(p, rx.port, '::1');
    await waitFor(() => rx.stats.packets === packets.length, 'all packets');
    const who = await bound;
    assert.equal(who.host, '::1');
    assert.equal(rx.stats.source, `::1:${who.port}`);
  } finally {
    tx.close();
    await rx.close();
  }
});
