// listRows() against real SQLite and MariaDB: totals stay exact while the table changes under the
// SQLite count cache, `like` through the trigram index finds what a plain LIKE finds (and follows
// renames and deletes), and pages of any depth tile the sorted list, also when SQLite seeks from
// remembered row keys instead of skipping (ties in the sort column, mixed directions, writes between).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { listRows } from '../src/http/list-query.ts';
import { channelResource, deviceResource, streamResource } from '../src/http/resources.ts';
import { ChannelEntity } from '../src/storage/entities.ts';
import { forEachDatabase } from './support/databases.ts';

const DEVICE = '34020000001320000001';
const names = ['lobby east', 'Lobby West', 'LOBBY 9', 'yard', '门口的摄像机', '50% gate', 'a_b c', 'back door', 'ab'];
const channel = (i: number, name: string, status = i % 3 === 0 ? 'OFF' : 'ON') => ({
  channelid: `34020000001310${String(i).padStart(6, '0')}`,
  deviceid: DEVICE,
  name,
  status,
  addtime: 1_700_000_000 + i,
});
const like = (value: string) => JSON.stringify([{ field_name: 'name', opertator: 'like', value }]);
const page = { limit: 20, skip: 0 };

forEachDatabase((dbName, makeDataSource) => {
  describe(`listRows() on ${dbName}`, () => {
    let ds: DataSource;
    before(async () => {
      ds = await makeDataSource();
      await ds.getRepository(ChannelEntity).insert(names.map((n, i) => channel(i + 1, n)));
    });

    it('lists only NOT NULL columns, so SQLite\'s JSON and MySQL\'s rows need no NULL defaults', async () => {
      for (const resource of [deviceResource, channelResource, streamResource]) {
        const columns: { name: string; nullable: boolean }[] =
          dbName === 'sqlite'
            ? ((await ds.query(`PRAGMA table_info("${resource.name}")`)) as { name: string; notnull: number }[]).map((c) => ({ name: c.name, nullable: !c.notnull }))
            : ((await ds.query('SELECT COLUMN_NAME AS name, IS_NULLABLE AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [resource.name])) as { name: string; n: string }[]).map((c) => ({ name: c.name, nullable: c.n === 'YES' }));
        for (const field of Object.keys(resource.fields)) {
          const column = columns.find((c) => c.name === field);
          assert.ok(column, `${resource.name}.${field} is a column`);
          assert.equal(column.nullable, false, `${resource.name}.${field} is NOT NULL`);
        }
      }
    });

    it('keeps totals exact while rows are added, changed and deleted between identical queries', async () => {
      const on = { limit: 1, skip: 0, filters: JSON.stringify([{ field_name: 'status', opertator: '=', value: 'ON' }]) };
      const repo = ds.getRepository(ChannelEntity);
      const count = async () => (await listRows(ds, channelResource, on)).total;
      const before = await count();
      assert.equal(before, await repo.countBy({ status: 'ON' }));
      assert.equal(await count(), before, 'asked twice, same answer');
      await repo.insert(channel(100, 'new one', 'ON'));
      assert.equal(await count(), before + 1, 'an insert is counted');
      await repo.update({ channelid: channel(100, '').channelid }, { status: 'OFF' });
      assert.equal(await count(), before, 'a status change is counted');
      await repo.update({ channelid: channel(100, '').channelid }, { status: 'ON' });
      await ds.query('DELETE FROM channels WHERE channelid = ?', [channel(100, '').channelid]);
      assert.equal(await count(), before, 'a raw DELETE outside typeorm is counted');
    });

    it('like finds what a case-insensitive contains finds, through the trigram index or not', async () => {
      const all = await ds.getRepository(ChannelEntity).find();
      for (const value of ['lobby', 'LOBBY', 'bby 9', '门口的', '门口', '50%', 'a_b', '_', 'ab', 'no such camera', 'y e']) {
        const got = await listRows(ds, channelResource, { ...page, filters: like(value) });
        const want = all.filter((r) => r.name.toLowerCase().includes(value.toLowerCase())).map((r) => r.name).sort();
        assert.deepEqual(got.list.map((r) => r.name).sort(), want, `like ${value}`);
        assert.equal(got.total, want.length, `total of like ${value}`);
      }
    });

    it('like follows a rename and a delete', async () => {
      const repo = ds.getRepository(ChannelEntity);
      await repo.insert(channel(200, 'warehouse dock'));
      assert.equal((await listRows(ds, channelResource, { ...page, filters: like('warehouse') })).total, 1);
      await repo.update({ channelid: channel(200, '').channelid }, { name: 'loading bay' });
      assert.equal((await listRows(ds, channelResource, { ...page, filters: like('warehouse') })).total, 0, 'old name gone');
      assert.equal((await listRows(ds, channelResource, { ...page, filters: like('ading ba') })).total, 1, 'new name found');
      await repo.delete({ channelid: channel(200, '').channelid });
      assert.equal((await listRows(ds, channelResource, { ...page, filters: like('ading ba') })).total, 0, 'deleted');
    });

    it('like over more matches than the index hands on still counts and pages every one', async () => {
      const many = Array.from({ length: 1100 }, (_, i) => channel(1000 + i, `bulk cam ${i}`));
      for (let k = 0; k < many.length; k += 250) await ds.getRepository(ChannelEntity).insert(many.slice(k, k + 250));
      const got = await listRows(ds, channelResource, { limit: 1000, skip: 1000, filters: like('bulk cam'), sort: 'addtime' });
      assert.equal(got.total, 1100);
      assert.deepEqual(got.list.map((r) => r.name), many.slice(1000).map((r) => r.name));
      const rare = await listRows(ds, channelResource, { ...page, filters: like('bulk cam 1099') });
      assert.deepEqual(rare.list.map((r) => r.name), ['bulk cam 1099']);
    });

    it('pages at any depth tile the sorted list, with a device scope and a filter', async () => {
      const q = { filters: JSON.stringify([{ field_name: 'status', opertator: 'in', value: ['ON', 'OFF'] }]), sort: '-status,name' };
      const first = await listRows(ds, channelResource, { ...q, limit: 1000, skip: 0 }, { deviceid: DEVICE });
      const rest = await listRows(ds, channelResource, { ...q, limit: 1000, skip: 1000 }, { deviceid: DEVICE });
      const whole = [...first.list, ...rest.list].map((r) => String(r.channelid));
      assert.equal(whole.length, first.total);
      const tiles: string[] = [];
      for (let skip = 0; skip < first.total; skip += 97) {
        const p = await listRows(ds, channelResource, { ...q, limit: 97, skip }, { deviceid: DEVICE });
        assert.equal(p.total, first.total);
        tiles.push(...p.list.map((r) => String(r.channelid)));
      }
      assert.deepEqual(tiles, whole);
      const other = await listRows(ds, channelResource, { limit: 5, skip: 0 }, { deviceid: '34020000001320000999' });
      assert.deepEqual(other, { total: 0, list: [] });
    });

    it('deep pages walked, asked again and asked after writes match the sorted table, ties and mixed directions included', async () => {
      const nvr = '34020000001320000077';
      const repo = ds.getRepository(ChannelEntity);
      const rows = Array.from({ length: 1300 }, (_, i) => ({
        ...channel(5000 + i, `cam ${i % 37}`, i % 2 ? 'ON' : 'OFF'),
        deviceid: nvr,
        addtime: 1_700_000_000 + (i % 400),
      }));
      for (let k = 0; k < rows.length; k += 250) await repo.insert(rows.slice(k, k + 250));
      type Row = { id: number; channelid: string; name: string; status: string; addtime: number };
      // What the table says, sorted here: keys in order, then id in the first key's direction.
      const expected = async (keys: [keyof Row, 1 | -1][]): Promise<string[]> => {
        const all = (await repo.findBy({ deviceid: nvr })) as Row[];
        const cmp = (a: Row, b: Row) => {
          for (const [k, dir] of keys) if (a[k] !== b[k]) return (a[k] < b[k] ? -1 : 1) * dir;
          return (a.id - b.id) * keys[0]![1];
        };
        return all.sort(cmp).map((r) => r.channelid);
      };
      const sorts: [string, [keyof Row, 1 | -1][]][] = [
        ['name', [['name', 1]]],
        ['-addtime', [['addtime', -1]]],
        ['-status,name', [['status', -1], ['name', 1]]],
        ['addtime,-name', [['addtime', 1], ['name', -1]]],
      ];
      const pageAt = async (sort: string, skip: number, limit: number) =>
        (await listRows(ds, channelResource, { sort, limit, skip }, { deviceid: nvr })).list.map((r) => String(r.channelid));
      for (const [sort, keys] of sorts) {
        const want = await expected(keys);
        const walked: string[] = [];
        for (let skip = 0; skip < want.length; skip += 60) walked.push(...(await pageAt(sort, skip, 60)));
        assert.deepEqual(walked, want, `walk sorted by ${sort}`);
        assert.deepEqual(await pageAt(sort, 900, 60), want.slice(900, 960), `${sort}: a page asked again`);
        assert.deepEqual(await pageAt(sort, 1000, 25), want.slice(1000, 1025), `${sort}: another size between known keys`);
      }
      // Writes change the table's version: remembered keys must not be used for the new order.
      await repo.insert({ ...channel(9000, 'cam 0', 'ON'), deviceid: nvr, addtime: 1_700_000_000 });
      await ds.query('DELETE FROM channels WHERE channelid = ?', [rows[3]!.channelid]);
      await repo.update({ channelid: rows[700]!.channelid }, { name: 'aaa first', addtime: 1_699_999_999, status: 'ON' });
      for (const [sort, keys] of sorts) {
        const want = await expected(keys);
        assert.deepEqual(await pageAt(sort, 900, 60), want.slice(900, 960), `${sort}: the same deep page after writes`);
        const page = await listRows(ds, channelResource, { sort, limit: 100, skip: 1250 }, { deviceid: nvr });
        assert.deepEqual(page.list.map((r) => String(r.channelid)), want.slice(1250), `${sort}: the last page after writes`);
        assert.equal(page.total, want.length);
      }
    });
  });
});
