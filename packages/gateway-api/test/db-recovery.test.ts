import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventBus } from '../src/events/event-bus.ts';
import { createHttpApp } from '../src/http/app.ts';
import { createPlatform, type Platform } from '../src/platform.ts';
import { DeviceEntity } from '../src/storage/entities.ts';
import { mariadbdPath, startMariadb, type MariadbServer } from '../../../scripts/test-services.mjs';
import { underCi } from './support/databases.ts';
import { TEST_API_TOKEN, testConfig } from './support/platform-config.ts';

// The database dies under a running platform and comes back: /health says so, the API answers
// 503 "1001" meanwhile, the process stays up and recovers without a restart. This file runs its
// OWN mariadbd because it kills it.

const available = Boolean(mariadbdPath());
if (!available && underCi()) throw new Error('mariadbd is required under CI for the db-recovery test');

describe('a platform on MariaDB whose database goes away', { skip: !available && 'mariadbd not installed' }, () => {
  let db: MariadbServer;
  let platform: Platform;
  const dataDir = mkdtempSync(join(tmpdir(), 'gb-dbrec-'));

  before(async () => {
    db = await startMariadb({ database: 'gbrecovery' });
    const config = testConfig({ dataDir, databaseUrl: db.url });
    platform = await createPlatform(config, undefined, {
      async createHttp(ctx) {
        const http = createHttpApp({
          dataSource: ctx.dataSource,
          config: { apiTokens: config.apiTokens, apiAuth: true, serverId: config.serverId },
          events: new EventBus(),
          storageUp: () => ctx.storage.isUp(),
          health: ctx.health,
        });
        return { handler: http.app.callback(), close: () => http.close() };
      },
    }, { guard: { intervalMs: 300, downIntervalMs: 200 } });
  });

  after(async () => {
    await platform?.close();
    await db?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const api = (path: string) =>
    fetch(`http://127.0.0.1:${platform.apiPort}${path}`, { headers: { authorization: `Bearer ${TEST_API_TOKEN}` } });

  async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
    const started = Date.now();
    while (!(await cond())) {
      if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await sleep(100);
    }
    return Date.now() - started;
  }

  it('answers 200 while the database is up', async () => {
    await platform.dataSource.getRepository(DeviceEntity).insert({ deviceid: '34020000001320000001', name: 'before' });
    const res = await api('/devices');
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { data: { total: number } }).data.total, 1);
  });

  it('reports the database down in /health and answers 503 "1001" after mariadbd is killed', async (t) => {
    const killedAt = Date.now();
    await db.kill();
    await until('guard notices', async () => !platform.storage.isUp());
    const noticedMs = Date.now() - killedAt;
    assert.ok(noticedMs < 5000, `noticed after ${noticedMs} ms`);
    t.diagnostic(`database loss noticed ${noticedMs} ms after SIGKILL to mariadbd (guard probe every 300 ms)`);
    const health = await fetch(`http://127.0.0.1:${platform.apiPort}/health`);
    assert.equal(health.status, 503);
    const body = (await health.json()) as { code: string; data: { status: string; db: unknown } };
    assert.equal(body.code, '1001');
    assert.equal(body.data.status, 'degraded');
    const h = await platform.health();
    assert.deepEqual(h.db, { kind: 'mysql', up: false });
    assert.equal(h.status, 'degraded');
    const res = await api('/devices');
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { code: string }).code, '1001');
  });

  it('recovers by itself when mariadbd comes back: /health ok and the same rows served', async (t) => {
    await sleep(500); // let the pool fail a few more times while the database is away
    const restartAt = Date.now();
    await db.start();
    const readyMs = Date.now() - restartAt;
    await until('guard sees the database again', async () => platform.storage.isUp());
    const recoveredMs = Date.now() - restartAt;
    assert.ok(recoveredMs < 10_000, `recovered after ${recoveredMs} ms`);
    t.diagnostic(`API served again ${recoveredMs} ms after mariadbd was started (mariadbd itself ready after ${readyMs} ms)`);
    const health = await fetch(`http://127.0.0.1:${platform.apiPort}/health`);
    assert.equal(health.status, 200);
    const res = await api('/devices');
    assert.equal(res.status, 200);
    const list = ((await res.json()) as { data: { list: { deviceid: string }[] } }).data.list;
    assert.deepEqual(list.map((d) => d.deviceid), ['34020000001320000001']);
    // the pool serves writes again, on connections dialled after the restart
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        platform.dataSource.getRepository(DeviceEntity).insert({ deviceid: `340200000013200001${String(i).padStart(2, '0')}` }),
      ),
    );
    assert.equal(await platform.dataSource.getRepository(DeviceEntity).count(), 13);
  });
});
