import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { EventBus, eventMatches, type PlatformEvent } from '../src/events/event-bus.ts';
import { attachEventSocket } from '../src/events/ws-events.ts';
import { createWebhookDispatcher, parseWebhookUrls, signWebhook, type WebhookDispatcher } from '../src/events/webhooks.ts';
import { forEachDatabase } from './support/databases.ts';
import { startApi, testToken, type ApiUnderTest } from './support/api-server.ts';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

// A real HTTP receiver on 127.0.0.1: answers each request with the next status of `script`
// (then 200), or never answers when told to hang.
async function startReceiver(script: number[] = [], hang = false) {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body, at: Date.now() });
      waiters.splice(0).forEach((w) => w());
      if (hang) return;
      res.statusCode = script.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    async waitFor(n: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`receiver got ${received.length} of ${n} requests`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('EventBus', () => {
  test('bus.publish() delivers {method, data, time, id} to every subscriber and strips secrets', () => {
    const bus = new EventBus();
    const got: PlatformEvent[] = [];
    const off = bus.subscribe((e) => got.push(e));
    bus.subscribe(() => {
      throw new Error('a broken listener must not stop the others');
    });
    const e = bus.publish('devices.register', { deviceid: '34020000001320000001', host: '10.0.0.2', port: 5060, transport: 'udp', password: 'leak' } as never);
    assert.equal(got.length, 1);
    assert.equal(got[0], e);
    assert.equal(e.method, 'devices.register');
    assert.ok(!('password' in e.data));
    assert.ok(Math.abs(e.time - Date.now()) < 1000);
    assert.match(e.id, /^[0-9a-f-]{36}$/);
    off();
    bus.publish('records.done', { file: 'x' });
    assert.equal(got.length, 1);
  });

  test('eventMatches() takes exact names, prefix.* and *', () => {
    assert.ok(eventMatches('*', 'streams.stop'));
    assert.ok(eventMatches('records.*', 'records.segment'));
    assert.ok(!eventMatches('records.*', 'recordsx.segment'));
    assert.ok(eventMatches('devices.online', 'devices.online'));
    assert.ok(!eventMatches('devices.online', 'devices.offline'));
  });
});

describe('webhooks', () => {
  test('parseWebhookUrls() reads event=url lists and JSON objects and rejects bad entries', () => {
    assert.deepEqual(parseWebhookUrls('devices.online=http://a/x, streams.*=https://b/y'), [
      { event: 'devices.online', url: 'http://a/x' },
      { event: 'streams.*', url: 'https://b/y' },
    ]);
    assert.deepEqual(parseWebhookUrls('{"*": ["http://a/1", "http://a/2"]}'), [
      { event: '*', url: 'http://a/1' },
      { event: '*', url: 'http://a/2' },
    ]);
    assert.deepEqual(parseWebhookUrls(undefined), []);
    assert.throws(() => parseWebhookUrls('devices.online=ftp://x'), /must be http/);
    assert.throws(() => parseWebhookUrls('nourl'), /event=url/);
    assert.throws(() => parseWebhookUrls('{bad'), /not valid JSON/);
  });

  test('each event is POSTed to its own URLs with a verifiable HMAC-SHA256 signature', async () => {
    const rx = await startReceiver();
    const bus = new EventBus();
    const hooks = createWebhookDispatcher({
      bus,
      secret: 's3cret',
      targets: [
        { event: 'devices.*', url: `${rx.url}/devices` },
        { event: 'streams.stop', url: `${rx.url}/stops` },
      ],
    });
    try {
      bus.publish('devices.online', { deviceid: '34020000001320000001' });
      bus.publish('streams.start', { streamid: 'a', deviceid: 'd', channelid: 'c', t: 0 });
      bus.publish('streams.stop', { streamid: 'a', deviceid: 'd', channelid: 'c', reason: 'bye' });
      await rx.waitFor(2);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(rx.received.map((r) => r.path).sort(), ['/devices', '/stops']);
      for (const r of rx.received) {
        const ts = String(r.headers['x-gb-timestamp']);
        assert.equal(r.headers['x-gb-signature'], signWebhook('s3cret', ts, r.body));
        assert.notEqual(r.headers['x-gb-signature'], signWebhook('other', ts, r.body));
        const event = JSON.parse(r.body) as PlatformEvent;
        assert.equal(r.headers['x-gb-event'], event.method);
        assert.equal(r.headers['x-gb-delivery'], event.id);
      }
      const stop = JSON.parse(rx.received.find((r) => r.path === '/stops')!.body);
      assert.equal(stop.data.reason, 'bye');
      assert.deepEqual(hooks.stats(), { queued: 0, inFlight: 0, delivered: 2, failed: 0, dropped: 0 });
    } finally {
      await hooks.close();
      await rx.close();
    }
  });

  test('a failed delivery is retried with growing delays until the receiver accepts it', async () => {
    const rx = await startReceiver([500, 503, 200]);
    const bus = new EventBus();
    const hooks = createWebhookDispatcher({ bus, secret: 'k', targets: [{ event: '*', url: rx.url }], backoffMs: 100 });
    try {
      const e = bus.publish('devices.offline', { deviceid: 'x', reason: 'keepalive-timeout' });
      await rx.waitFor(3);
      const [a, b, c] = rx.received;
      assert.deepEqual(rx.received.map((r) => r.headers['x-gb-attempt']), ['1', '2', '3']);
      assert.ok(rx.received.every((r) => r.headers['x-gb-delivery'] === e.id));
      const gap1 = b!.at - a!.at;
      const gap2 = c!.at - b!.at;
      assert.ok(gap1 >= 70, `first retry after ${gap1} ms`);
      assert.ok(gap2 >= 150, `second retry after ${gap2} ms`);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(hooks.stats().delivered, 1);
    } finally {
      await hooks.close();
      await rx.close();
    }
  });

  test('a delivery gives up after maxAttempts and a 4xx is not retried', async () => {
    const rx = await startReceiver([500, 500, 404]);
    const bus = new EventBus();
    const hooks = createWebhookDispatcher({ bus, targets: [{ event: '*', url: rx.url }], backoffMs: 10, maxAttempts: 2 });
    try {
      bus.publish('devices.online', { deviceid: 'a' });
      await rx.waitFor(2);
      bus.publish('devices.online', { deviceid: 'b' });
      await rx.waitFor(3);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(rx.received.length, 3);
      assert.equal(hooks.stats().failed, 2);
    } finally {
      await hooks.close();
      await rx.close();
    }
  });

  test('a receiver that hangs fills a bounded queue and publish() never waits for it', async () => {
    const rx = await startReceiver([], true);
    const bus = new EventBus();
    const hooks: WebhookDispatcher = createWebhookDispatcher({ bus, targets: [{ event: '*', url: rx.url }], maxQueue: 5, concurrency: 1, timeoutMs: 5000, maxAttempts: 1 });
    try {
      const started = process.hrtime.bigint();
      for (let i = 0; i < 1000; i++) bus.publish('devices.online', { deviceid: String(i) });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      assert.ok(ms < 200, `1000 publishes took ${ms} ms`);
      await rx.waitFor(1);
      const s = hooks.stats();
      assert.equal(s.inFlight, 1);
      assert.equal(s.queued, 4);
      assert.equal(s.dropped, 1000 - 5);
    } finally {
      await rx.close(); // cuts the hanging request, so close() does not wait for its timeout
      await hooks.close();
    }
  });
});

test('the /events socket drops a client that stops answering pings', async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets = attachEventSocket(server, { bus: new EventBus(), authorize: () => true, pingIntervalMs: 100 });
  try {
    const port = (server.address() as AddressInfo).port;
    const healthy = new WebSocket(`ws://127.0.0.1:${port}/events`);
    const silent = new WebSocket(`ws://127.0.0.1:${port}/events`, { autoPong: false });
    await Promise.all([healthy, silent].map((ws) => new Promise((r) => ws.once('open', r))));
    const closed = await new Promise<number>((r) => silent.once('close', (code) => r(code)));
    assert.equal(closed, 1006);
    assert.equal(healthy.readyState, WebSocket.OPEN);
    for (let i = 0; i < 100 && sockets.clientCount !== 1; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(sockets.clientCount, 1);
    healthy.close();
  } finally {
    await sockets.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

forEachDatabase((dbName, makeDataSource) => {
  if (dbName !== 'sqlite') return; // the socket does not touch the database
  describe('WebSocket /events', () => {
    let api: ApiUnderTest;
    before(async () => {
      api = await startApi(await makeDataSource());
    });
    after(() => api.close());
    const wsUrl = (q: string) => `${api.base.replace('http', 'ws')}/events${q}`;

    function open(url: string, headers?: Record<string, string>): Promise<WebSocket> {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(url, { headers });
        ws.once('open', () => resolve(ws));
        ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
        ws.once('error', reject);
      });
    }
    function next(ws: WebSocket): Promise<PlatformEvent> {
      return new Promise((resolve) => ws.once('message', (m) => resolve(JSON.parse(String(m)))));
    }

    test('/events without a valid token is refused with 401', async () => {
      await assert.rejects(open(wsUrl('')), /HTTP 401/);
      await assert.rejects(open(wsUrl('?token=wrong')), /HTTP 401/);
    });

    test('/events streams every published event to a client with ?token=', async () => {
      const ws = await open(wsUrl(`?token=${testToken}`));
      try {
        const got = next(ws);
        api.events.publish('devices.online', { deviceid: '34020000001320000001', host: '10.1.1.1', port: 5060 });
        const e = await got;
        assert.equal(e.method, 'devices.online');
        assert.deepEqual(e.data, { deviceid: '34020000001320000001', host: '10.1.1.1', port: 5060 });
      } finally {
        ws.close();
      }
    });

    test('/events with a bearer header and ?events= receives only the chosen events', async () => {
      const ws = await open(wsUrl('?events=streams.*'), { authorization: `Bearer ${testToken}` });
      try {
        const got = next(ws);
        api.events.publish('devices.offline', { deviceid: 'x', reason: 'unregistered' });
        api.events.publish('streams.stop', { streamid: '1', deviceid: 'd', channelid: 'c', reason: 'no viewers' });
        const e = await got;
        assert.equal(e.method, 'streams.stop');
        assert.equal((e.data as { reason: string }).reason, 'no viewers');
      } finally {
        ws.close();
      }
    });

    test('channel creation through the API publishes channels.update on /events', async () => {
      const ws = await open(wsUrl(`?token=${testToken}&events=channels.update`));
      try {
        const dev = await api.request('POST', '/devices', { json: {} });
        const got = next(ws);
        const ch = await api.request('POST', `/devices/${dev.body.data.deviceid}/channels`, { json: { memo: 'door' } });
        const e = await got;
        assert.deepEqual(e.data, { deviceid: dev.body.data.deviceid, channels: 1, channelids: [ch.body.data.channelid] });
      } finally {
        ws.close();
      }
    });
  });
});
