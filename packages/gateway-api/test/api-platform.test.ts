// The REST component of platform-hooks.ts inside the real platform (config, storage guard, shared
// state, health), SIP and media not started, webhooks configured the way an operator does
// (GB_WEBHOOK_URLS / GB_WEBHOOK_SECRET).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import type { PlatformEvent } from '../src/events/event-bus.ts';
import { parseWebhookUrls, signWebhook } from '../src/events/webhooks.ts';
import { createPlatform, type Platform } from '../src/platform.ts';
import { createPlatformHooks } from '../src/platform-hooks.ts';
import { freshDatabase, type FreshDatabase } from './support/databases.ts';
import { TEST_API_TOKEN, testConfig } from './support/platform-config.ts';

describe('REST component in the platform', () => {
  let db: FreshDatabase;
  let platform: Platform;
  let receiver: Server;
  const delivered: { body: string; headers: Record<string, string | string[] | undefined> }[] = [];
  const hooks = createPlatformHooks();
  const events = hooks.events;
  let base: string;
  const secret = 'webhook-secret-0123456789';

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        delivered.push({ body, headers: req.headers });
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    db = await freshDatabase('sqlite');
    const config = testConfig(db.config, { webhooks: parseWebhookUrls(`devices.*=${hookUrl}`), webhookSecret: secret });
    platform = await createPlatform(config, undefined, { createHttp: hooks.createHttp });
    base = `http://127.0.0.1:${platform.apiPort}`;
  });
  after(async () => {
    await platform?.close();
    receiver.closeAllConnections();
    await new Promise<void>((r) => receiver.close(() => r()));
    await db?.drop();
  });

  const get = (path: string, token: string | null = TEST_API_TOKEN) =>
    fetch(base + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  test('/health answers the platform report without a token', async () => {
    const res = await get('/health', null);
    const body = (await res.json()) as { code: string; data: { status: string; db: { up: boolean; kind: string } } };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.data.status, 'ok');
    assert.deepEqual(body.data.db, { kind: 'sqlite', up: true });
  });

  test('devices created through the API get ids from the shared counter and are listed', async () => {
    const created = await fetch(base + '/devices', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=gate',
    });
    assert.equal(created.status, 201);
    const d = ((await created.json()) as { data: { deviceid: string; sip: { host: string; domain: string } } }).data;
    assert.match(d.deviceid, /^34020000001320\d{6}$/);
    assert.equal(d.sip.host, '127.0.0.1');
    assert.equal(d.sip.domain, '3402000000');
    assert.equal((await get('/devices', null)).status, 401);
    const list = (await (await get('/devices')).json()) as { data: { total: number } };
    assert.equal(list.data.total, 1);
  });

  test('platform events reach the configured webhook, signed, and the /events socket', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/events?token=${TEST_API_TOKEN}`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const got = new Promise<PlatformEvent>((resolve) => ws.once('message', (m) => resolve(JSON.parse(String(m)))));
    events.publish('devices.online', { deviceid: '34020000001320000001' });
    events.publish('streams.start', { streamid: 'A', deviceid: 'd', channelid: 'c', t: 0 });
    assert.equal((await got).method, 'devices.online');
    ws.close();
    const deadline = Date.now() + 10_000;
    while (delivered.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(delivered.length, 1, 'only devices.* is configured');
    const h = delivered[0]!;
    assert.equal(h.headers['x-gb-signature'], signWebhook(secret, String(h.headers['x-gb-timestamp']), h.body));
    assert.equal((JSON.parse(h.body) as PlatformEvent).method, 'devices.online');
  });
});
