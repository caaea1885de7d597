// The batched registration UPDATE (one statement for the registrations of one event-loop turn),
// run on SQLite and MariaDB: every row gets its own values, other rows stay as they were.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { DataSource } from 'typeorm';
import { registrationUpdate } from '../src/device-registry.ts';
import { DeviceEntity } from '../src/storage/entities.ts';
import { forEachDatabase } from './support/databases.ts';

const id = (n: number) => `3402000000132${String(n).padStart(7, '0')}`;

forEachDatabase((name, makeDataSource) => {
  describe(`registrationUpdate on ${name}`, () => {
    let db: DataSource;
    before(async () => {
      db = await makeDataSource();
      const t = 1_700_000_000;
      await db.getRepository(DeviceEntity).insert([1, 2, 3, 4].map((n) => ({ deviceid: id(n), name: `d${n}`, password: 'p', addtime: t, uptime: t })));
    });

    test('registrationUpdate() writes each device its own address, times and online flags in one statement', async () => {
      const rows = [1, 2, 3].map((n) => ({ deviceid: id(n), host: `10.0.0.${n}`, port: 5060 + n, transport: n === 2 ? 'tcp' : 'udp', active: 1_800_000_000 + n, expires: 3600 + n, uptime: 1_800_000_100 + n }));
      const [sql, params] = registrationUpdate(rows);
      await db.query(sql, params);
      const got = await db.getRepository(DeviceEntity).find({ order: { deviceid: 'ASC' } });
      assert.deepEqual(
        got.map((r) => [r.deviceid, r.host, r.port, r.transport, r.active, r.expires, r.uptime, r.online, r.regist]),
        [
          [id(1), '10.0.0.1', 5061, 'udp', 1_800_000_001, 3601, 1_800_000_101, true, true],
          [id(2), '10.0.0.2', 5062, 'tcp', 1_800_000_002, 3602, 1_800_000_102, true, true],
          [id(3), '10.0.0.3', 5063, 'udp', 1_800_000_003, 3603, 1_800_000_103, true, true],
          [id(4), '', 0, 'udp', 0, 0, 1_700_000_000, false, false],
        ],
      );
    });
  });
});
