// The list worker thread answers list pages over its own read connection to the SQLite file: the
// same bytes as the main thread would send, writes committed in the main thread seen at once, bad
// filters the same 400, and pages still answered (in the main thread) when the worker cannot run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { listWorkerFor } from '../src/http/list-worker-client.ts';
import { openDataSource } from '../src/storage/data-source.ts';
import { ChannelEntity, DeviceEntity } from '../src/storage/entities.ts';
import { startApi, type ApiUnderTest } from './support/api-server.ts';
import { freshDatabase, type FreshDatabase } from './support/databases.ts';

const DEVICE = '34020000001320000001';

describe('list worker on SQLite', () => {
  let db: FreshDatabase;
  let ds: DataSource;
  /** a second DataSource on the same file, its app without a worker: the main-thread reference */
  let ds2: DataSource;
  let withWorker: ApiUnderTest;
  let inThread: ApiUnderTest;
  before(async () => {
    db = await freshDatabase('sqlite');
    ds = await openDataSource(db.config);
    await ds.getRepository(DeviceEntity).insert({ deviceid: DEVICE, name: 'nvr', password: 'x', online: true });
    const rows = Array.from({ length: 1200 }, (_, i) => ({
      channelid: `34020000001310${String(i).padStart(6, '0')}`,
      deviceid: DEVICE,
      name: `${i % 3 ? 'gate' : '门口'} ${i}`,
      status: i % 4 ? 'ON' : 'OFF',
      longitude: 116.397128 + i / 7,
      addtime: 1_700_000_000 + (i % 300),
    }));
    for (let k = 0; k < rows.length; k += 300) await ds.getRepository(ChannelEntity).insert(rows.slice(k, k + 300));
    withWorker = await startApi(ds);
    ds2 = await openDataSource(db.config);
    inThread = await startApi(ds2, { listWorker: false });
  });
  after(async () => {
    await withWorker.close();
    await inThread.close();
    await ds.destroy();
    await ds2.destroy();
    await db.drop();
  });

  it('answers pages from the worker with the bytes the main thread would send', async () => {
    const worker = listWorkerFor(ds);
    assert.ok(worker?.ready, 'worker up');
    const before = worker.answered;
    const f = (v: unknown) => encodeURIComponent(JSON.stringify(v));
    const paths = [
      '/channels?limit=100',
      '/channels?limit=50&skip=1000&sort=name',
      `/channels?filters=${f([{ field_name: 'name', opertator: 'like', value: '门口 1' }])}&sort=-longitude`,
      `/devices/${DEVICE}/channels?limit=7&skip=600&sort=-status,addtime`,
      `/devices?filters=${f([{ field_name: 'online', opertator: '=', value: true }])}`,
    ];
    for (const path of paths) {
      const [a, b] = [await withWorker.request('GET', path), await inThread.request('GET', path)];
      assert.equal(a.status, 200, path);
      assert.deepEqual(a.body.data, b.body.data, path);
      assert.ok(a.body.data.list.length > 0, `${path} is not empty`);
    }
    assert.equal(worker.answered - before, paths.length, 'every page came from the worker');
  });

  it('sees a write committed in the main thread on the very next request', async () => {
    const path = `/channels?filters=${encodeURIComponent(JSON.stringify([{ field_name: 'name', opertator: '=', value: 'just added' }]))}`;
    assert.equal((await withWorker.request('GET', path)).body.data.total, 0);
    await ds.getRepository(ChannelEntity).insert({ channelid: '34020000001319999999', deviceid: DEVICE, name: 'just added' });
    const res = await withWorker.request('GET', path);
    assert.equal(res.body.data.total, 1);
    assert.equal(res.body.data.list[0].channelid, '34020000001319999999');
  });

  it('answers a bad filter with the same 400 as the main thread', async () => {
    const path = `/channels?filters=${encodeURIComponent('[{"field_name":"password","opertator":"=","value":"x"}]')}`;
    const [a, b] = [await withWorker.request('GET', path), await inThread.request('GET', path)];
    assert.equal(a.status, 400);
    assert.deepEqual(a.body.data, b.body.data);
    assert.match(String(a.body.data), /field_name is not a filterable field/);
  });
});

describe('list worker that cannot start', () => {
  it('leaves pages to the main thread', async () => {
    const db = await freshDatabase('sqlite');
    const ds = await openDataSource(db.config);
    try {
      await ds.getRepository(ChannelEntity).insert({ channelid: '34020000001310000001', deviceid: DEVICE, name: 'cam' });
      // The worker opens the file by name with fileMustExist: a name that is not there stops it.
      const options = ds.options as { database: string };
      const real = options.database;
      options.database = `${real}.missing`;
      const api = await startApi(ds);
      options.database = real;
      try {
        const worker = listWorkerFor(ds);
        assert.ok(worker, 'a worker was started');
        assert.equal(await worker.whenReady(), false, 'and stopped');
        const res = await api.request('GET', '/channels');
        assert.equal(res.status, 200);
        assert.equal(res.body.data.list[0].name, 'cam');
        assert.equal(worker.answered, 0);
      } finally {
        await api.close();
      }
    } finally {
      await ds.destroy();
      await db.drop();
    }
  });
});
