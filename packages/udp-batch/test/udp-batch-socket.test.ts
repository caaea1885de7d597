import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { UdpBatchSocket, udpBatchAvailable, udpBatchUnavailableReason, type DatagramSource } from '../src/index.ts';

// The addon is built at install on Linux; elsewhere these tests have nothing to test.
const skip = udpBatchAvailable() ? false : `addon not built: ${udpBatchUnavailableReason()}`;

async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Datagram i carries its number in its first 4 bytes and is `size` long, filled with (i & 0xff). */
function numbered(i: number, size = 1400): Buffer {
  const b = Buffer.alloc(size, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

interface Received {
  data: Buffer;
  address: string;
  port: number;
}

function collector(): { got: Received[]; onDatagram: (data: Buffer, from: DatagramSource) => void } {
  const got: Received[] = [];
  return { got, onDatagram: (data, from) => got.push({ data, address: from.address, port: from.port }) };
}

test('UdpBatchSocket delivers 1,000 datagrams sent in one burst complete, in order, with their source', { skip }, async () => {
  const { got, onDatagram } = collector();
  const rx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, recvBufferBytes: 4 << 20, onDatagram });
  const tx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, sendBufferBytes: 4 << 20 });
  try {
    assert.ok(rx.port > 0);
    // sizes vary so packing inside a batch is checked too: 1..1500 bytes
    const sent = Array.from({ length: 1000 }, (_, i) => numbered(i, 4 + ((i * 37) % 1497)));
    let n = 0;
    while (n < sent.length) {
      n += tx.sendBatch(sent.slice(n), rx.port, '127.0.0.1');
      if (n < sent.length) await sleep(1);
    }
    await waitFor(() => got.length === sent.length, `1000 datagrams (have ${got.length})`);
    for (let i = 0; i < sent.length; i++) assert.ok(got[i]!.data.equals(sent[i]!), `datagram ${i}`);
    assert.ok(got.every((g) => g.address === '127.0.0.1' && g.port === tx.port));
    assert.deepEqual(rx.stats, { datagrams: 1000, bytes: sent.reduce((s, b) => s + b.length, 0), oversize: 0 });
  } finally {
    await Promise.all([rx.close(), tx.close()]);
  }
});

test('UdpBatchSocket with transientData hands datagrams over in one reused buffer, valid during the call, next to a socket that keeps its own', { skip }, async () => {
  const transient: { copy: Buffer; view: Buffer }[] = [];
  const kept: Buffer[] = [];
  const rxTransient = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, recvBufferBytes: 4 << 20, transientData: true, onDatagram: (data) => transient.push({ copy: Buffer.from(data), view: data }) });
  const rxKept = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, recvBufferBytes: 4 << 20, onDatagram: (data) => kept.push(data) });
  const tx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, sendBufferBytes: 4 << 20 });
  try {
    for (let round = 0; round < 20; round++) {
      const batch = Array.from({ length: 10 }, (_, k) => numbered(round * 10 + k, 200 + k * 90));
      tx.sendBatch(batch, rxTransient.port, '127.0.0.1');
      tx.sendBatch(batch, rxKept.port, '127.0.0.1');
      await sleep(2); // several event-loop turns, so the staging buffer is written again
    }
    await waitFor(() => transient.length === 200 && kept.length === 200, `200 datagrams each (have ${transient.length}, ${kept.length})`);
    for (let i = 0; i < 200; i++) {
      const expected = numbered(i, 200 + (i % 10) * 90);
      assert.ok(transient[i]!.copy.equals(expected), `transient datagram ${i} correct during the call`);
      assert.ok(kept[i]!.equals(expected), `kept datagram ${i} still intact after later turns`);
    }
    assert.equal(new Set(transient.map((t) => t.view.buffer)).size, 1, 'every transient datagram is a view of one staging buffer');
    assert.ok(transient.some((t, i) => !t.view.equals(t.copy) && i < 190), 'the staging buffer was written again after early calls');
  } finally {
    await Promise.all([rxTransient.close(), rxKept.close(), tx.close()]);
  }
});

test('UdpBatchSocket.sendSegmented() arrives as separate datagrams of the segment size, the last one shorter; bad sizes are a TypeError', { skip }, async () => {
  const { got, onDatagram } = collector();
  const rx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, onDatagram });
  const tx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0 });
  try {
    const data = Buffer.concat([...Array.from({ length: 5 }, (_, i) => numbered(i, 1412)), numbered(5, 300)]);
    assert.equal(tx.sendSegmented(data, 1412, rx.port, '127.0.0.1'), true);
    await waitFor(() => got.length === 6, `6 datagrams (have ${got.length})`);
    assert.deepEqual(got.map((g) => g.data.length), [1412, 1412, 1412, 1412, 1412, 300]);
    got.forEach((g, i) => assert.equal(g.data.readUInt32BE(0), i));
    assert.throws(() => tx.sendSegmented(Buffer.alloc(65 * 100), 100, rx.port, '127.0.0.1'), TypeError);
    assert.throws(() => tx.sendSegmented(Buffer.alloc(10), 0, rx.port, '127.0.0.1'), TypeError);
    assert.throws(() => tx.sendSegmented(Buffer.alloc(10), 5, rx.port, 'localhost'), /IPv4 or IPv6 address/);
    assert.throws(() => tx.sendSegmented(Buffer.alloc(10), 5, 70_000, '127.0.0.1'), /port must be 0..65535/);
  } finally {
    await Promise.all([rx.close(), tx.close()]);
  }
});

test('UdpBatchSocket delivers an empty datagram as an empty Buffer', { skip }, async () => {
  const { got, onDatagram } = collector();
  const rx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, onDatagram });
  const tx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0 });
  try {
    assert.equal(tx.sendBatch([Buffer.alloc(0), numbered(1, 8)], rx.port, '127.0.0.1'), 2);
    await waitFor(() => got.length === 2, 'both datagrams');
    assert.equal(got[0]!.data.length, 0);
    assert.equal(got[1]!.data.readUInt32BE(0), 1);
  } finally {
    await Promise.all([rx.close(), tx.close()]);
  }
});

test('UdpBatchSocket drops a datagram longer than maxDatagramBytes whole and reports it', { skip }, async () => {
  const { got, onDatagram } = collector();
  const oversize: string[] = [];
  const rx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, maxDatagramBytes: 2048, onDatagram, onOversize: (f) => oversize.push(`${f.address}:${f.port}`) });
  const tx = dgram.createSocket('udp4');
  try {
    const sent = [numbered(0), numbered(1, 2048), numbered(2, 2049), numbered(3), numbered(4, 65507), numbered(5, 0 + 4)];
    for (const b of sent) tx.send(b, rx.port, '127.0.0.1');
    await waitFor(() => got.length + oversize.length === sent.length, 'every datagram handled');
    assert.deepEqual(got.map((g) => g.data.readUInt32BE(0)), [0, 1, 3, 5]);
    assert.ok(got[1]!.data.equals(sent[1]!), 'a datagram of exactly maxDatagramBytes is whole');
    assert.equal(oversize.length, 2);
    assert.equal(oversize[0], `127.0.0.1:${tx.address().port}`);
    assert.equal(rx.stats.oversize, 2);
  } finally {
    tx.close();
    await rx.close();
  }
});

test('UdpBatchSocket tells two sources apart by address and port without strings', { skip }, async () => {
  const keys: boolean[] = [];
  let first: ReturnType<DatagramSource['key']> | undefined;
  const rx = UdpBatchSocket.open({
    host: '127.0.0.1',
    port: 0,
    onDatagram: (_d, from) => {
      first ??= from.key();
      keys.push(from.is(first));
    },
  });
  const a = dgram.createSocket('udp4');
  const b = dgram.createSocket('udp4');
  try {
    a.send(numbered(0), rx.port, '127.0.0.1');
    await waitFor(() => keys.length === 1, 'first datagram');
    b.send(numbered(1), rx.port, '127.0.0.1');
    await waitFor(() => keys.length === 2, 'second source');
    a.send(numbered(2), rx.port, '127.0.0.1');
    await waitFor(() => keys.length === 3, 'first source again');
    assert.deepEqual(keys, [true, false, true]);
  } finally {
    a.close();
    b.close();
    await rx.close();
  }
});

test('UdpBatchSocket.close() while datagrams flow stops every handler at once and frees the port', { skip }, async () => {
  let afterClose = 0;
  let closed = false;
  let rx: UdpBatchSocket | undefined;
  let handled = 0;
  rx = UdpBatchSocket.open({
    host: '127.0.0.1',
    port: 0,
    recvBufferBytes: 4 << 20,
    onDatagram: () => {
      if (closed) afterClose++;
      // closing from inside a batch: the rest of this batch must not reach the handler
      if (++handled === 500) {
        closed = true;
        void rx!.close();
      }
    },
  });
  const port = rx.port;
  const tx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, sendBufferBytes: 4 << 20 });
  try {
    const burst = Array.from({ length: 200 }, (_, i) => numbered(i));
    for (let round = 0; round < 20; round++) {
      tx.sendBatch(burst, port, '127.0.0.1');
      await sleep(2);
    }
    await rx.close();
    await sleep(50);
    assert.ok(closed, 'the handler closed the socket');
    assert.equal(afterClose, 0);
    // the port is free once close() resolved
    const again = UdpBatchSocket.open({ host: '127.0.0.1', port });
    await again.close();
  } finally {
    await Promise.all([rx.close(), tx.close()]);
  }
});

test('UdpBatchSocket survives a throwing handler: onError gets the exception, later datagrams still arrive', { skip }, async () => {
  const errors: unknown[] = [];
  const seen: number[] = [];
  const rx = UdpBatchSocket.open({
    host: '127.0.0.1',
    port: 0,
    onDatagram: (d) => {
      seen.push(d.readUInt32BE(0));
      if (d.readUInt32BE(0) === 1) throw new Error('bad handler');
    },
    onError: (err) => errors.push(err),
  });
  const tx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0 });
  try {
    assert.equal(tx.sendBatch([numbered(0), numbered(1), numbered(2)], rx.port, '127.0.0.1'), 3);
    await waitFor(() => seen.length === 3, 'three datagrams');
    assert.deepEqual(seen, [0, 1, 2]);
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as Error).message, 'bad handler');
  } finally {
    await Promise.all([rx.close(), tx.close()]);
  }
});

test('500 UdpBatchSockets at once each get only their own datagrams', { skip }, async () => {
  const count = 500;
  const got: number[][] = Array.from({ length: count }, () => []);
  const socks = Array.from({ length: count }, (_, i) =>
    UdpBatchSocket.open({ host: '127.0.0.1', port: 0, onDatagram: (d) => got[i]!.push(d.readUInt32BE(0)) }),
  );
  const tx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, sendBufferBytes: 4 << 20 });
  try {
    assert.equal(new Set(socks.map((s) => s.port)).size, count);
    for (let i = 0; i < count; i++) {
      assert.equal(tx.sendBatch([numbered(i * 10), numbered(i * 10 + 1), numbered(i * 10 + 2)], socks[i]!.port, '127.0.0.1'), 3);
      if (i % 50 === 49) await sleep(1);
    }
    await waitFor(() => got.every((g) => g.length === 3), 'three datagrams on every socket');
    for (let i = 0; i < count; i++) assert.deepEqual(got[i], [i * 10, i * 10 + 1, i * 10 + 2]);
  } finally {
    await Promise.all([...socks.map((s) => s.close()), tx.close()]);
  }
});

test('UdpBatchSocket.open() throws EADDRINUSE for a port in use and TypeError for bad options', { skip }, async () => {
  const holder = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', () => resolve()));
  try {
    assert.throws(() => UdpBatchSocket.open({ host: '127.0.0.1', port: holder.address().port }), { code: 'EADDRINUSE', message: /EADDRINUSE/ });
  } finally {
    holder.close();
  }
  assert.throws(() => UdpBatchSocket.open({ host: 'localhost', port: 0 }), TypeError);
  assert.throws(() => UdpBatchSocket.open({ host: '127.0.0.1', port: 70000 }), TypeError);
  assert.throws(() => UdpBatchSocket.open({ host: '127.0.0.1', port: 0, maxDatagramBytes: 0 }), TypeError);
  const s = UdpBatchSocket.open({ host: '127.0.0.1', port: 0 });
  try {
    assert.throws(() => s.sendBatch(['not a buffer' as unknown as Buffer], s.port, '127.0.0.1'), TypeError);
    assert.throws(() => s.sendBatch([Buffer.alloc(1)], s.port, 'example.org'), TypeError);
  } finally {
    await s.close();
  }
  assert.throws(() => s.sendBatch([Buffer.alloc(1)], s.port, '127.0.0.1'), /closed/);
});

test('UdpBatchSocket on ::1 reports IPv6 sources as node:dgram spells them', { skip }, async (t) => {
  let rx: UdpBatchSocket;
  try {
    rx = UdpBatchSocket.open({ host: '::1', port: 0, onDatagram: (d, f) => got.push(`${f.address}:${f.port}:${d.length}`) });
  } catch {
    return t.skip('no IPv6 loopback here');
  }
  const got: string[] = [];
  const tx = dgram.createSocket('udp6');
  try {
    await new Promise<void>((resolve) => tx.bind(0, '::1', () => resolve()));
    tx.send(numbered(0, 100), rx.port, '::1');
    await waitFor(() => got.length === 1, 'the datagram');
    assert.deepEqual(got, [`::1:${tx.address().port}:100`]);
  } finally {
    tx.close();
    await rx.close();
  }
});

/** Runs `body` (an async function source taking the udp-batch module and worker_threads) in a worker under tsx. */
function startWorker(body: string): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const index = new URL('../src/index.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then(async (m) => { m.register(); const ub = await import(${JSON.stringify(index)}); const wt = await import('node:worker_threads'); await (${body})(ub, wt); });`;
  return new Worker(code, { eval: true });
}

test('UdpBatchSocket works inside a worker thread, and terminating the worker closes its sockets', { skip }, async () => {
  const worker = startWorker(`async ({ UdpBatchSocket }, { parentPort }) => {
    let n = 0;
    const s = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, recvBufferBytes: 1 << 20, onDatagram: () => { n++; } });
    // a second socket stays open until the worker is terminated
    UdpBatchSocket.open({ host: '127.0.0.1', port: 0 });
    parentPort.on('message', () => parentPort.postMessage({ count: n }));
    parentPort.postMessage({ port: s.port });
  }`);
  const messages: { port?: number; count?: number }[] = [];
  worker.on('message', (m) => messages.push(m));
  try {
    await waitFor(() => messages.length === 1, 'the worker socket', 30_000);
    const port = messages[0]!.port!;
    const tx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0 });
    assert.equal(tx.sendBatch(Array.from({ length: 100 }, (_, i) => numbered(i)), port, '127.0.0.1'), 100);
    await tx.close();
    for (let tries = 0; messages.at(-1)?.count !== 100 && tries < 200; tries++) {
      worker.postMessage('count');
      await sleep(20);
    }
    assert.equal(messages.at(-1)?.count, 100);
    assert.equal(await worker.terminate(), 1);
    // its sockets went with it: the port is free
    const again = UdpBatchSocket.open({ host: '127.0.0.1', port });
    await again.close();
  } finally {
    await worker.terminate();
  }
});
