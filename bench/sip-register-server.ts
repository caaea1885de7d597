// Child process of bench/sip-register.ts: our SIP server on 127.0.0.1 (ephemeral port) with
// device credentials in SQLite through the gateway's storage (typeorm DataSource, devices table),
// so the benchmark's RSS and CPU are the server's alone. Talks to the parent over IPC:
// -> { type: 'ready', port, seeded }   <- { type: 'stats' } -> { type: 'stats', rss, cpuUserUs, cpuSystemUs, registered, online }
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSipServer, type DeviceCredentialStore } from '@gb28181/sip-core';
import { openDataSource } from '../packages/gateway-api/src/storage/data-source.ts';
import { DeviceEntity, type DeviceRow } from '../packages/gateway-api/src/storage/entities.ts';
import { attachDeviceRegistry, createCredentialStore } from '../packages/gateway-api/src/device-registry.ts';
import { EventBus } from '../packages/gateway-api/src/events/event-bus.ts';
import { loadConfig } from '../packages/gateway-api/src/config.ts';
import { benchDeviceIds, benchPassword, SERVER_ID } from './sip-bench-ids.ts';

const devices = Number(process.env.BENCH_DEVICES ?? 10000);
const dataDir = mkdtempSync(join(tmpdir(), 'gb-bench-db-'));
const ds = await openDataSource({ dataDir });
const repo = ds.getRepository(DeviceEntity);
const now = Math.floor(Date.now() / 1000);
const ids = benchDeviceIds(devices);
for (let i = 0; i < ids.length; i += 500) {
  const rows: Partial<DeviceRow>[] = ids.slice(i, i + 500).map((deviceid) => ({
    deviceid, name: deviceid, region: deviceid.slice(0, 10), host: '', port: 0, transport: 'udp', manufacturer: '', model: '', firmware: '',
    charset: 'auto', stream_mode: 'udp', online: false, regist: false, active: 0, expires: 3600, channels: 0,
    password: benchPassword(deviceid), addtime: now, uptime: now,
  }));
  await repo.insert(rows);
}

// BENCH_STORE picks the credential store, all reading the same SQLite devices table:
//   gateway (default): the gateway's own store (createCredentialStore: one raw parameterised SELECT)
//   typeorm-qb: a typeorm QueryBuilder per lookup (the gateway's store before; for comparison)
//   sqlite-raw: one raw parameterised SELECT through the same DataSource, outside the gateway
//   memory: a Map loaded from the table, to tell database cost from SIP cost
// sip-core caches lookups itself, so each device costs one lookup.
const storeKind = process.env.BENCH_STORE ?? 'gateway';
let credentials: DeviceCredentialStore;
if (storeKind === 'memory') {
  const memory = new Map((await repo.createQueryBuilder('d').select(['d.deviceid']).addSelect('d.password').getMany()).map((r) => [r.deviceid, r.password]));
  credentials = {
    async lookup(deviceId) {
      const password = memory.get(deviceId);
      return password === undefined ? null : { deviceId, password };
    },
  };
} else if (storeKind === 'typeorm-qb') {
  // What the gateway's store did before it switched to one raw SELECT: kept to measure the difference.
  credentials = {
    async lookup(deviceId) {
      const row = await repo.createQueryBuilder('d').addSelect('d.password').where('d.deviceid = :deviceId', { deviceId }).getOne();
      return row ? { deviceId, password: row.password, charset: row.charset as 'auto' } : null;
    },
  };
} else if (storeKind === 'sqlite-raw') {
  credentials = {
    async lookup(deviceId) {
      const rows = (await ds.query('SELECT password, charset FROM devices WHERE deviceid = ?', [deviceId])) as { password: string; charset: string }[];
      const row = rows[0];
      return row ? { deviceId, password: row.password, charset: row.charset as 'auto' } : null;
    },
  };
} else {
  credentials = createCredentialStore(ds, loadConfig({ GB_DATA_DIR: dataDir }, { persistSecrets: false }));
}
const config = loadConfig({ GB_DATA_DIR: dataDir }, { persistSecrets: false });

const server = await createSipServer({
  serverId: SERVER_ID, host: '127.0.0.1', port: 0, publicIp: '127.0.0.1', registerPolicy: 'known',
  keepaliveTimeoutS: 180, nonceSecret: 'bench-secret', credentials, catalogOnRegister: false,
});

// BENCH_REGISTRY=1: also keep the devices table in step (one UPDATE per registration), as the gateway does.
const registry = process.env.BENCH_REGISTRY === '1' ? attachDeviceRegistry({ db: ds, sip: server, config, events: new EventBus() }) : undefined;

// BENCH_CPU_PROF=<file>: a V8 CPU profile of the measured window only (not start-up or seeding).
const profiler = process.env.BENCH_CPU_PROF ? new Session() : undefined;

process.on('message', (m: { type: string }) => {
  if (m.type === 'profile-start' && profiler) {
    profiler.connect();
    void profiler.post('Profiler.enable').then(() => profiler.post('Profiler.start'));
  } else if (m.type === 'profile-stop' && profiler) {
    void profiler.post('Profiler.stop').then(({ profile }) => {
      writeFileSync(process.env.BENCH_CPU_PROF!, JSON.stringify(profile));
      process.send?.({ type: 'profile-written' });
    });
  } else if (m.type === 'stats') {
    const cpu = process.cpuUsage();
    const all = server.devices();
    process.send?.({
      type: 'stats', rss: process.memoryUsage().rss, cpuUserUs: cpu.user, cpuSystemUs: cpu.system,
      registered: all.length, online: all.filter((d) => d.online).length,
    });
  } else if (m.type === 'stop') {
    void (async () => {
      await server.close();
      await registry?.close();
      await ds.destroy();
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    })();
  }
});
process.send?.({ type: 'ready', port: server.port, seeded: ids.length });
