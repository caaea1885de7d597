import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import type { DataSource } from 'typeorm';
import { spawnSync } from 'node:child_process';
import { migrate, openDataSource, StorageUnavailableError, databaseKind } from '../src/storage/data-source.ts';
import { ChannelEntity, DeviceEntity, StreamEntity } from '../src/storage/entities.ts';
import { forEachDatabase, freshDatabase } from './support/databases.ts';
import { migrations } from '../../../migrations/index.ts';

const deviceId = '34020000001320000001';

forEachDatabase((name, makeDataSource) => {
  describe(`storage on ${name}`, () => {
    let ds: DataSource;
    before(async () => {
      ds = await makeDataSource();
    });

    it('openDataSource() runs the migrations once and records them', async () => {
      const q = ds.createQueryRunner();
      try {
        for (const t of ['devices', 'channels', 'streams']) assert.ok(await q.hasTable(t), `table ${t}`);
      } finally {
        await q.release();
      }
      assert.equal(await ds.showMigrations(), false, 'no pending migration');
      const executed = await ds.query('SELECT name FROM migrations');
      assert.deepEqual(executed.map((r: { name: string }) => r.name), ['InitialSchema1732406400000', 'ListQuerySupport1764000000000']);
    });

    it('tables carry the unique keys and the indexes on filterable columns', async () => {
      const q = ds.createQueryRunner();
      try {
        const expected: Record<string, { unique: string; indexed: string[] }> = {
          devices: { unique: 'deviceid', indexed: ['name', 'online', 'addtime', 'uptime', 'host', 'online,addtime'] },
          channels: { unique: 'channelid', indexed: ['deviceid', 'status', 'name', 'parentid', 'addtime', 'status,name', 'deviceid,addtime'] },
          streams: { unique: 'streamid', indexed: ['deviceid', 'channelid', 'status', 't', 'addtime'] },
        };
        for (const [table, want] of Object.entries(expected)) {
          const t = (await q.getTable(table))!;
          const uniqueCols = [
            ...t.uniques.map((u) => u.columnNames.join(',')),
            ...t.indices.filter((i) => i.isUnique).map((i) => i.columnNames.join(',')),
          ];
          assert.ok(uniqueCols.includes(want.unique), `${table}.${want.unique} unique (have ${uniqueCols})`);
          const indexed = t.indices.filter((i) => !i.isUnique).map((i) => i.columnNames.join(','));
          for (const c of want.indexed) assert.ok(indexed.includes(c), `${table}.${c} indexed (have ${indexed})`);
        }
      } finally {
        await q.release();
      }
    });

    it('a second device with the same deviceid is rejected by the database', async () => {
      const repo = ds.getRepository(DeviceEntity);
      await repo.insert({ deviceid: deviceId, name: 'gate', password: 'secret1', addtime: 1700000000, uptime: 1700000000 });
      await assert.rejects(repo.insert({ deviceid: deviceId, name: 'again' }), /UNIQUE|Duplicate/i);
    });

    it('device rows leave out the password unless it is asked for, and speak numbers for bigint', async () => {
      const repo = ds.getRepository(DeviceEntity);
      const row = await repo.findOneByOrFail({ deviceid: deviceId });
      assert.equal('password' in row, false);
      assert.equal(row.addtime, 1700000000);
      assert.equal(row.online, false);
      assert.equal(row.charset, 'auto');
      const withSecret = await repo.findOneOrFail({ where: { deviceid: deviceId }, select: { id: true, password: true } });
      assert.equal(withSecret.password, 'secret1');
    });

    it('channels and streams store every api.md field with their defaults', async () => {
      await ds.getRepository(ChannelEntity).insert({ channelid: '34020000001310000001', deviceid: deviceId, name: '通道一', longitude: 120.5 });
      const ch = await ds.getRepository(ChannelEntity).findOneByOrFail({ channelid: '34020000001310000001' });
      assert.equal(ch.name, '通道一');
      assert.equal(ch.status, 'OFF');
      assert.equal(ch.streamtype, 'push');
      assert.equal(ch.registerway, 1);
      assert.equal(ch.longitude, 120.5);
      await ds.getRepository(StreamEntity).insert({ streamid: '0100000001', ssrc: '0100000001', deviceid: deviceId, channelid: ch.channelid, end: 4102444800, dialog: JSON.stringify({ callId: 'x' }) });
      const st = await ds.getRepository(StreamEntity).findOneByOrFail({ streamid: '0100000001' });
      assert.equal(st.end, 4102444800);
      assert.equal(st.status, 'opening');
      assert.equal(st.stream, false);
      assert.deepEqual(JSON.parse(st.dialog), { callId: 'x' });
      await assert.rejects(ds.getRepository(StreamEntity).insert({ streamid: '0100000001' }), /UNIQUE|Duplicate/i);
    });

    it('the migrations revert cleanly and apply again', async () => {
      await ds.undoLastMigration();
      await ds.undoLastMigration();
      const q = ds.createQueryRunner();
      try {
        for (const t of ['devices', 'channels', 'streams']) assert.equal(await q.hasTable(t), false, `${t} dropped`);
      } finally {
        await q.release();
      }
      await migrate(ds);
      assert.equal(await ds.getRepository(DeviceEntity).count(), 0);
    });
  });
});

describe('openDataSource()', () => {
  it('reopening a migrated database runs no migration again and keeps the rows', async () => {
    const db = await freshDatabase('sqlite');
    try {
      const a = await openDataSource(db.config);
      await a.getRepository(DeviceEntity).insert({ deviceid: deviceId });
      await a.destroy();
      const b = await openDataSource(db.config);
      assert.equal(await b.getRepository(DeviceEntity).count(), 1);
      assert.equal((await b.query('SELECT COUNT(*) AS n FROM migrations'))[0].n, migrations.length);
      await b.destroy();
    } finally {
      await db.drop();
    }
  });

  it('rejects with StorageUnavailableError naming DATABASE_URL, password masked, when nothing listens', async () => {
    const started = Date.now();
    const err = await openDataSource(
      { dataDir: '/tmp', databaseUrl: 'mysql://gb:hunter2@127.0.0.1:1/gb' },
      { retryForMs: 1200, retryIntervalMs: 400 },
    ).then(
      () => assert.fail('should not connect'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof StorageUnavailableError);
    assert.match(err.message, /DATABASE_URL mysql:\/\/gb:\*\*\*@127\.0\.0\.1:1\/gb/);
    assert.doesNotMatch(err.message, /hunter2/);
    assert.match(err.message, /ECONNREFUSED/);
    assert.ok(Date.now() - started >= 700, 'it retried before giving up');
  });

  it('two nodes opening the same MariaDB database at once apply the migrations once', { skip: !process.env.GB_TEST_MYSQL_URL }, async () => {
    const db = await freshDatabase('mariadb');
    try {
      const nodes = await Promise.all([openDataSource(db.config), openDataSource(db.config), openDataSource(db.config)]);
      assert.equal(Number((await nodes[0]!.query('SELECT COUNT(*) AS n FROM migrations'))[0].n), migrations.length);
      await Promise.all(nodes.map((n) => n.destroy()));
    } finally {
      await db.drop();
    }
  });

  it('opens a mariadb:// DATABASE_URL with typeorm\'s mariadb driver', { skip: !process.env.GB_TEST_MYSQL_URL }, async () => {
    const db = await freshDatabase('mariadb');
    try {
      const url = db.config.databaseUrl!.replace(/^mysql:/, 'mariadb:');
      const ds = await openDataSource({ ...db.config, databaseUrl: url });
      assert.equal(ds.options.type, 'mariadb');
      await ds.getRepository(DeviceEntity).insert({ deviceid: deviceId });
      assert.equal(await ds.getRepository(DeviceEntity).count(), 1);
      await ds.destroy();
    } finally {
      await db.drop();
    }
  });

  it('stores Chinese names on a MariaDB database created with a latin1 default', { skip: !process.env.GB_TEST_MYSQL_URL }, async () => {
    const db = await freshDatabase('mariadb', { charset: 'latin1' });
    try {
      const ds = await openDataSource(db.config);
      await ds.getRepository(DeviceEntity).insert({ deviceid: deviceId, name: '东门摄像机🎥' });
      assert.equal((await ds.getRepository(DeviceEntity).findOneByOrFail({ deviceid: deviceId })).name, '东门摄像机🎥');
      await ds.destroy();
    } finally {
      await db.drop();
    }
  });

  it('opens SQLite in WAL mode with a busy timeout', async () => {
    const db = await freshDatabase('sqlite');
    try {
      const ds = await openDataSource(db.config);
      assert.equal((await ds.query('PRAGMA journal_mode'))[0].journal_mode, 'wal');
      assert.equal((await ds.query('PRAGMA busy_timeout'))[0].timeout, 5000);
      await ds.destroy();
    } finally {
      await db.drop();
    }
  });

  it('`npm run migration:run` (src/migrate.ts) applies the migrations and says which', async () => {
    const db = await freshDatabase('sqlite');
    try {
      const root = new URL('../../../', import.meta.url).pathname;
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'packages/gateway-api/src/migrate.ts'], {
        cwd: root,
        env: { PATH: process.env.PATH, GB_DATA_DIR: db.config.dataDir },
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /gb28181\.db: 2 migrations applied \(InitialSchema1732406400000, ListQuerySupport1764000000000\)/);
    } finally {
      await db.drop();
    }
  });

  it('databaseKind() tells sqlite, mariadb and mysql apart by the URL', () => {
    assert.equal(databaseKind({ dataDir: '.' }), 'sqlite');
    assert.equal(databaseKind({ dataDir: '.', databaseUrl: 'mariadb://u@h/db' }), 'mariadb');
    assert.equal(databaseKind({ dataDir: '.', databaseUrl: 'mysql://u@h/db' }), 'mysql');
  });
});
