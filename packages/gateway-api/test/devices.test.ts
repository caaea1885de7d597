import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { EventBus, type PlatformEvent } from '../src/events/event-bus.ts';
import { DeviceEntity } from '../src/storage/entities.ts';
import type { DeviceSignaling } from '../src/services.ts';
import { forEachDatabase } from './support/databases.ts';
import { startApi, type ApiUnderTest } from './support/api-server.ts';

// A DeviceSignaling that behaves like the SIP side for the routes: it counts catalog syncs and
// remembers forgotten devices and charsets.
class RecordingSignaling implements DeviceSignaling {
  forgotten: string[] = [];
  charsets: [string, string][] = [];
  catalogCalls = 0;
  catalogResult: number | Error = 3;
  async syncCatalog(): Promise<number> {
    this.catalogCalls++;
    if (this.catalogResult instanceof Error) throw this.catalogResult;
    return this.catalogResult;
  }
  forget(deviceId: string): void {
    this.forgotten.push(deviceId);
  }
  setCharset(deviceId: string, charset: 'auto' | 'gb18030' | 'utf-8'): void {
    this.charsets.push([deviceId, charset]);
  }
  sipSettings() {
    return { server_id: '34020000002000000001', domain: '3402000000', host: '192.0.2.10', port: 5060, transports: ['udp', 'tcp'] };
  }
}

forEachDatabase((dbName, makeDataSource) => {
  describe(`devices API on ${dbName}`, () => {
    let api: ApiUnderTest;
    const signaling = new RecordingSignaling();
    let logText = '';
    const published: PlatformEvent[] = [];
    before(async () => {
      const logger = pino({ level: 'trace' }, new Writable({ write: (chunk, _enc, done) => ((logText += String(chunk)), done()) }));
      const events = new EventBus();
      events.subscribe((e) => published.push(e));
      api = await startApi(await makeDataSource(), { signaling, logger, events });
    });
    after(() => api.close());

    test('POST /devices allocates a GB id and returns the camera settings with the password once', async () => {
      const res = await api.request('POST', '/devices', { json: { name: 'gate' } });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.code, '0');
      assert.equal(typeof res.body.msgid, 'string');
      const d = res.body.data;
      assert.match(d.deviceid, /^34020000001320\d{6}$/);
      assert.equal(d.name, 'gate');
      assert.match(d.pwd, /^[A-Za-z0-9]{12}$/);
      assert.deepEqual(d.sip, { server_id: '34020000002000000001', domain: '3402000000', host: '192.0.2.10', port: 5060, transports: ['udp', 'tcp'], password: d.pwd });
      // kept for digest verification
      const stored = await api.dataSource.getRepository(DeviceEntity).createQueryBuilder('d').addSelect('d.password').where('d.deviceid = :id', { id: d.deviceid }).getOne();
      assert.equal(stored?.password, d.pwd);
      // and never shown again
      for (const path of ['/devices', `/devices/${d.deviceid}`]) {
        const again = await api.request('GET', path);
        assert.equal(again.status, 200);
        assert.ok(!again.text.includes(d.pwd), `${path} leaks the password`);
        assert.ok(!/"(pwd|password)"/.test(again.text), `${path} has a password field`);
      }
    });

    test('POST /devices accepts a form-encoded body with a chosen password and an existing camera id', async () => {
      const res = await api.request('POST', '/devices', { form: { name: 'yard', pwd: 'Secret123', deviceid: '34020000001320009999' } });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.data.deviceid, '34020000001320009999');
      assert.equal(res.body.data.sip.password, 'Secret123');
      const dup = await api.request('POST', '/devices', { form: { deviceid: '34020000001320009999' } });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.code, '1002');
      assert.match(dup.body.data, /already exists/);
    });

    test('POST /devices rejects a bad password and a bad id with 400 naming the field', async () => {
      const bad = await api.request('POST', '/devices', { json: { pwd: 'has space' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, '1002');
      assert.match(bad.body.data, /^body\.pwd: /);
      const badId = await api.request('POST', '/devices', { json: { deviceid: '123' } });
      assert.equal(badId.status, 400);
      assert.match(badId.body.data, /^body\.deviceid: expected a 20-digit GB id/);
    });

    test('100 parallel POST /devices get 100 distinct GB ids', async () => {
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => api.request('POST', '/devices', { json: { name: `cam-${i}` } })));
      for (const r of results) assert.equal(r.status, 201, r.text);
      const ids = new Set(results.map((r) => r.body.data.deviceid as string));
      assert.equal(ids.size, 100);
      for (const id of ids) assert.match(id, /^3402000000132\d{7}$/);
    });

    test('two gateway processes creating devices on one database still get distinct GB ids', async () => {
      // A second DataSource + app = another process: its own allocator queue, only the unique key shared.
      const ds2 = new DataSource(api.dataSource.options);
      await ds2.initialize();
      const other = await startApi(ds2);
      try {
        const results = await Promise.all(
          Array.from({ length: 60 }, (_, i) => (i % 2 ? api : other).request('POST', '/devices', { json: { name: `pair-${i}` } })),
        );
        for (const r of results) assert.equal(r.status, 201, r.text);
        assert.equal(new Set(results.map((r) => r.body.data.deviceid)).size, 60);
      } finally {
        await other.close();
        await ds2.destroy();
      }
    });

    test('GB id allocation continues after ids created by another process', async () => {
      // Another gateway process took the next serials: the unique key rejects, we retry past them.
      const before = await api.request('POST', '/devices', { json: {} });
      const serial = Number(before.body.data.deviceid.slice(14));
      const repo = api.dataSource.getRepository(DeviceEntity);
      for (let k = 1; k <= 3; k++) await repo.insert({ deviceid: `34020000001320${String(serial + k).padStart(6, '0')}`, password: 'x' });
      const res = await api.request('POST', '/devices', { json: {} });
      assert.equal(res.status, 201, res.text);
      // the re-read maximum may be a hand-picked id further up (34020000001320009999 above)
      assert.ok(Number(res.body.data.deviceid.slice(14)) > serial + 3, res.body.data.deviceid);
    });

    test('GET /devices pages with total, sorts by a whitelisted field and caps limit at 1000', async () => {
      const page = await api.request('GET', '/devices?limit=5&skip=2&sort=name');
      assert.equal(page.status, 200);
      assert.equal(page.body.data.list.length, 5);
      assert.ok(page.body.data.total >= 100);
      const names = page.body.data.list.map((d: { name: string }) => d.name);
      assert.deepEqual(names, [...names].sort());
      const all = await api.request('GET', '/devices?limit=5000');
      assert.equal(all.status, 200);
      assert.equal(all.body.data.list.length, Math.min(1000, all.body.data.total));
      const bad = await api.request('GET', '/devices?limit=-1');
      assert.equal(bad.status, 400);
      assert.match(bad.body.data, /^query\.limit/);
    });

    test('GET /devices/:id answers 404 for an unknown device and 400 for a malformed id', async () => {
      const missing = await api.request('GET', '/devices/34020000001329999999');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, '1002');
      assert.match(missing.body.data, /not found/);
      const malformed = await api.request('GET', '/devices/abc');
      assert.equal(malformed.status, 400);
      assert.match(malformed.body.data, /^path\.id/);
    });

    test('PATCH and POST /devices/:id edit name, password, charset and stream mode', async () => {
      const created = (await api.request('POST', '/devices', { json: { name: 'old' } })).body.data;
      const patched = await api.request('PATCH', `/devices/${created.deviceid}`, { json: { name: 'new', charset: 'gb18030', stream_mode: 'udp', pwd: 'Changed99' } });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.body.data.name, 'new');
      assert.equal(patched.body.data.charset, 'gb18030');
      assert.equal(patched.body.data.stream_mode, 'udp');
      assert.ok(!patched.text.includes('Changed99'));
      assert.deepEqual(signaling.charsets.at(-1), [created.deviceid, 'gb18030']);
      const stored = await api.dataSource.getRepository(DeviceEntity).createQueryBuilder('d').addSelect('d.password').where('d.deviceid = :id', { id: created.deviceid }).getOne();
      assert.equal(stored?.password, 'Changed99');
      const posted = await api.request('POST', `/devices/${created.deviceid}`, { form: { stream_mode: 'tcp-active' } });
      assert.equal(posted.body.data.stream_mode, 'tcp-active');
      const bad = await api.request('PATCH', `/devices/${created.deviceid}`, { json: { charset: 'latin1' } });
      assert.equal(bad.status, 400);
      assert.match(bad.body.data, /^body\.charset/);
    });

    test('POST /devices/:id/catalog returns the synced channel count, 409 when offline, 502 when the device fails', async () => {
      const created = (await api.request('POST', '/devices', { json: {} })).body.data;
      const offline = await api.request('POST', `/devices/${created.deviceid}/catalog`);
      assert.equal(offline.status, 409);
      assert.match(offline.body.data, /offline/);
      await api.dataSource.getRepository(DeviceEntity).update({ deviceid: created.deviceid }, { online: true });
      const ok = await api.request('POST', `/devices/${created.deviceid}/catalog`);
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.body.data, { deviceid: created.deviceid, channels: 3 });
      signaling.catalogResult = Object.assign(new Error('SIP/2.0 488 raw text'), { name: 'SipResponseError', status: 488 });
      const failed = await api.request('POST', `/devices/${created.deviceid}/catalog`);
      assert.equal(failed.status, 502);
      assert.equal(failed.body.data, 'catalog query failed: the device answered 488');
      signaling.catalogResult = Object.assign(new Error('no answer'), { name: 'QueryTimeoutError' });
      const timeout = await api.request('POST', `/devices/${created.deviceid}/catalog`);
      assert.equal(timeout.status, 504);
      assert.equal(timeout.body.data, 'catalog query failed: the device did not answer in time');
      signaling.catalogResult = 3;
    });

    test('passwords never reach the logs or the events', async () => {
      const created = await api.request('POST', '/devices', { json: { pwd: 'LogSecret77' } });
      await api.request('PATCH', `/devices/${created.body.data.deviceid}`, { json: { pwd: 'LogSecret88' } });
      await api.request('POST', `/devices/${created.body.data.deviceid}/channels`, { json: {} });
      assert.ok(logText.includes(created.body.data.deviceid), 'the log is captured');
      assert.ok(published.length > 0, 'events are captured');
      const seen = logText + JSON.stringify(published);
      assert.ok(!seen.includes('LogSecret77') && !seen.includes('LogSecret88'));
    });

    test('DELETE /devices/:id removes the device and its channels and forgets its registration', async () => {
      const created = (await api.request('POST', '/devices', { json: {} })).body.data;
      const ch = await api.request('POST', `/devices/${created.deviceid}/channels`, { json: { memo: 'pre' } });
      assert.equal(ch.status, 201, ch.text);
      const del = await api.request('DELETE', `/devices/${created.deviceid}`);
      assert.equal(del.status, 200, del.text);
      assert.deepEqual(del.body.data, { deviceid: created.deviceid, channels: 1 });
      assert.equal((await api.request('GET', `/devices/${created.deviceid}`)).status, 404);
      assert.equal((await api.request('GET', `/channels/${ch.body.data.channelid}`)).status, 404);
      assert.ok(signaling.forgotten.includes(created.deviceid));
      assert.equal((await api.request('DELETE', `/devices/${created.deviceid}`)).status, 404);
    });
  });
});
