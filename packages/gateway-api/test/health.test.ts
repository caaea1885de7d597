import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createPlatform } from '../src/platform.ts';
import { PortInUseError } from '../src/ports.ts';
import { StorageUnavailableError } from '../src/storage/data-source.ts';
import { collectHealth, healthHttpStatus, type HealthReport } from '../src/health.ts';
import { freshDatabase, serviceUrl, type FreshDatabase } from './support/databases.ts';
import { testConfig } from './support/platform-config.ts';

const dbs: FreshDatabase[] = [];
after(async () => {
  for (const db of dbs) await db.drop();
});
async function db(name: 'sqlite' | 'mariadb') {
  const d = await freshDatabase(name);
  dbs.push(d);
  return d;
}

async function getHealth(port: number): Promise<{ status: number; body: HealthReport }> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return { status: res.status, body: (await res.json()) as HealthReport };
}

describe('createPlatform()', () => {
  it('starts on embedded defaults and GET /health reports sqlite, memory state and the unwired listeners', async () => {
    const d = await db('sqlite');
    const platform = await createPlatform(testConfig(d.config, { sipPort: 5062 }));
    try {
      const { status, body } = await getHealth(platform.apiPort);
      assert.equal(status, 200);
      assert.equal(body.status, 'ok');
      assert.deepEqual(body.db, { kind: 'sqlite', up: true });
      assert.deepEqual(body.state, { kind: 'memory', up: true });
      assert.deepEqual(body.sip, { udp: false, tcp: false, port: 5062, listening: false, wired: false });
      assert.equal(body.media.listening, false);
      assert.equal(body.media.rtpPorts, '30000-30500');
      assert.equal(typeof body.uptime_s, 'number');
      assert.ok(existsSync(join(d.config.dataDir, 'gb28181.db')));
      const other = await fetch(`http://127.0.0.1:${platform.apiPort}/devices`);
      assert.equal(other.status, 404);
    } finally {
      await platform.close();
    }
  });

  it('close() is idempotent and frees the API port', async () => {
    const d = await db('sqlite');
    const platform = await createPlatform(testConfig(d.config));
    const port = platform.apiPort;
    await Promise.all([platform.close(), platform.close()]);
    await platform.close();
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
    assert.equal(platform.dataSource.isInitialized, false);
  });

  it('passes the context to the SIP, media and HTTP hooks in order and closes them in reverse', async () => {
    const d = await db('sqlite');
    const order: string[] = [];
    // a narrow RTP range: the start-up check binds each port briefly, and other suites use the default range
    const platform = await createPlatform(testConfig(d.config, { rtpPorts: [47990, 47991] }), undefined, {
      async startSip(ctx) {
        assert.ok(ctx.dataSource.isInitialized);
        order.push('sip');
        return { health: () => ({ udp: true, tcp: true, port: 5060, listening: true }), close: async () => void order.push('~sip') };
      },
      async startMedia(ctx) {
        assert.ok(ctx.sip);
        order.push('media');
        return { health: () => ({ http: 8000, rtmp: 1935, rtpPorts: '1-2', listening: false }), close: async () => void order.push('~media') };
      },
      async createHttp(ctx) {
        order.push('http');
        return {
          handler: (_req, res) => {
            void ctx.health().then((h) => res.end(JSON.stringify(h)));
          },
          close: async () => void order.push('~http'),
        };
      },
    });
    const body = (await (await fetch(`http://127.0.0.1:${platform.apiPort}/anything`)).json()) as HealthReport;
    assert.equal(body.sip.listening, true);
    assert.equal(body.status, 'degraded', 'a wired media engine that does not listen degrades health');
    await platform.close();
    assert.deepEqual(order, ['sip', 'media', 'http', '~http', '~media', '~sip']);
  });

  it('refuses to start when a configured port is taken, naming the key, before opening storage', async () => {
    const d = await db('sqlite');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        createPlatform(testConfig(d.config, { mediaRtmpPort: port })),
        (err: Error) => err instanceof PortInUseError && err.message === `GB_MEDIA_RTMP_PORT ${port} is in use (tcp)`,
      );
      assert.equal(existsSync(join(d.config.dataDir, 'gb28181.db')), false);
    } finally {
      blocker.close();
    }
  });

  it('rejects with StorageUnavailableError naming DATABASE_URL when the database is unreachable', async () => {
    const d = await db('sqlite');
    await assert.rejects(
      createPlatform(testConfig({ ...d.config, databaseUrl: 'mariadb://gb:pw@127.0.0.1:1/gb' }), undefined, {}, { dbRetryForMs: 0 }),
      (err: Error) => err instanceof StorageUnavailableError && /DATABASE_URL mariadb:\/\/gb:\*\*\*@127\.0\.0\.1:1\/gb/.test(err.message),
    );
  });

  const mysqlUrl = serviceUrl('GB_TEST_MYSQL_URL');
  const redisUrl = serviceUrl('GB_TEST_REDIS_URL');
  it('reports mysql and redis in /health when DATABASE_URL and REDIS_URL are set', { skip: !mysqlUrl || !redisUrl }, async () => {
    const d = await db('mariadb');
    const platform = await createPlatform(testConfig(d.config, { redisUrl }));
    try {
      const { status, body } = await getHealth(platform.apiPort);
      assert.equal(status, 200);
      assert.deepEqual(body.db, { kind: 'mysql', up: true });
      assert.deepEqual(body.state, { kind: 'redis', up: true });
    } finally {
      await platform.close();
    }
  });
});

describe('collectHealth()', () => {
  const sip = { udp: true, tcp: true, port: 5060, listening: true };
  const media = { http: 8000, rtmp: 1935, rtpPorts: '30000-30500', listening: true };
  const sources = (dbUp: boolean, stateUp: boolean) => ({
    db: { kind: 'mariadb' as const, check: async () => dbUp },
    state: { kind: 'redis' as const, ping: async () => stateUp },
    sip: () => sip,
    media: () => media,
    startedAt: Date.now() - 5_500,
  });

  it('is ok (HTTP 200) when the database, the shared state and every wired listener answer', async () => {
    const r = await collectHealth(sources(true, true));
    assert.equal(r.status, 'ok');
    assert.equal(healthHttpStatus(r), 200);
    assert.equal(r.uptime_s, 5);
  });

  it('is degraded (HTTP 503) when the database or the shared state does not answer', async () => {
    const noDb = await collectHealth(sources(false, true));
    assert.equal(noDb.status, 'degraded');
    assert.deepEqual(noDb.db, { kind: 'mariadb', up: false });
    assert.equal(healthHttpStatus(noDb), 503);
    const noState = await collectHealth(sources(true, false));
    assert.equal(noState.status, 'degraded');
    assert.deepEqual(noState.state, { kind: 'redis', up: false });
  });

  it('counts a probe that throws as down rather than failing the report', async () => {
    const r = await collectHealth({ ...sources(true, true), db: { kind: 'sqlite', check: () => Promise.reject(new Error('boom')) } });
    assert.deepEqual(r.db, { kind: 'sqlite', up: false });
  });
});
