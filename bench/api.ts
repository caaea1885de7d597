// Benchmark (not a test): the list API over 100,000 channels in SQLite, measured with autocannon.
// Reports p50/p99 latency and requests/s per query shape; the target is p99 <= 20 ms.
//   node --import tsx bench/api.ts [channels=100000] [seconds=5] [connections=10] [scenario name part]
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { EventBus } from '../packages/gateway-api/src/events/event-bus.ts';
import { createHttpApp } from '../packages/gateway-api/src/http/app.ts';
import { listWorkerFor } from '../packages/gateway-api/src/http/list-worker-client.ts';
import { openDataSource } from '../packages/gateway-api/src/storage/data-source.ts';
import { ChannelEntity, DeviceEntity } from '../packages/gateway-api/src/storage/entities.ts';

const total = Number(process.argv[2] ?? 100_000);
const seconds = Number(process.argv[3] ?? 5);
const connections = Number(process.argv[4] ?? 10);
const only = process.argv[5];
const perDevice = 100;
const token = 'bench-token';
const dataDir = mkdtempSync(join(tmpdir(), 'gb-bench-api-'));

const dev = (k: number) => `3402000000132${String(k).padStart(7, '0')}`;
const names = ['gate', 'yard', 'lobby', 'parking', 'stairs', '门口', 'roof', 'hall'];

const ds = await openDataSource({ dataDir });
try {
  const t0 = Date.now();
  const devices = Math.ceil(total / perDevice);
  // updateEntity(false): typeorm would otherwise re-select every inserted row for its defaults.
  const deviceRows = Array.from({ length: devices }, (_, i) => ({ deviceid: dev(i + 1), name: `nvr ${i}`, password: 'x', online: i % 5 !== 0, addtime: 1_700_000_000 + i }));
  for (let k = 0; k < deviceRows.length; k += 500) {
    await ds.createQueryBuilder().insert().into(DeviceEntity).values(deviceRows.slice(k, k + 500)).updateEntity(false).execute();
  }
  const batch = 500;
  await ds.transaction(async (m) => {
    for (let start = 0; start < total; start += batch) {
      const rows = Array.from({ length: Math.min(batch, total - start) }, (_, j) => {
        const i = start + j;
        return {
          channelid: `34020000001310${String(i).padStart(6, '0')}`,
          deviceid: dev(Math.floor(i / perDevice) + 1),
          name: `${names[i % names.length]} ${i}`,
          status: i % 4 === 0 ? 'OFF' : 'ON',
          ptztype: i % 5,
          longitude: 116 + (i % 1000) / 1000,
          latitude: 39 + (i % 777) / 1000,
          addtime: 1_700_000_000 + i,
          uptime: 1_700_000_000 + (i % 86_400),
        };
      });
      await m.createQueryBuilder().insert().into(ChannelEntity).values(rows).updateEntity(false).execute();
    }
  });
  console.log(`seeded ${total} channels on ${devices} devices in ${((Date.now() - t0) / 1000).toFixed(1)} s (SQLite, migrations' indexes)`);

  const http = createHttpApp({ dataSource: ds, events: new EventBus(), config: { apiTokens: [token], apiAuth: true, serverId: '34020000002000000001' }, listWorker: process.env.GB_API_LIST_WORKER !== 'off' });
  // List pages are read in the list worker thread once it is up (GB_API_LIST_WORKER=off: main thread).
  const listWorker = listWorkerFor(ds);
  await listWorker?.whenReady();
  const server = createServer(http.app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const f = (v: unknown) => encodeURIComponent(JSON.stringify(v));
  // [name, path, channel writes per second during the run]: writes bump the table version, so
  // the cached totals are recounted; a `like` matching nothing is answered from the trigram index.
  const walk = '/channels?sort=-addtime&limit=20'; // its own path: optionsFor() tells it by the path
  const scenarios: [string, string, number?][] = [
    ['page 1, default sort -addtime', '/channels?limit=20'],
    ['deep page (skip 50,000), asked again', '/channels?limit=20&skip=50000'],
    ['same, 20 channel writes/s (seek keys relearned)', '/channels?limit=20&skip=50000', 20],
    ['walk: each client pages on (20 rows)', walk],
    ['status=ON sorted by name', `/channels?filters=${f([{ field_name: 'status', opertator: '=', value: 'ON' }])}&sort=name`],
    ['same, 20 channel writes/s (totals recounted)', `/channels?filters=${f([{ field_name: 'status', opertator: '=', value: 'ON' }])}&sort=name`, 20],
    ['deviceid in 3 devices, sort -uptime', `/channels?filters=${f([{ field_name: 'deviceid', opertator: 'in', value: [dev(7), dev(70), dev(700)] }])}&sort=-uptime`],
    ['one device\'s channels (route scope)', `/devices/${dev(Math.min(500, devices))}/channels?limit=100`],
    ['addtime range + or-group', `/channels?filters=${f([{ field_name: 'addtime', opertator: '>=', value: 1_700_050_000 }, { or: [[{ field_name: 'ptztype', opertator: '=', value: 1 }], [{ field_name: 'status', opertator: '=', value: 'OFF' }]] }])}&sort=-addtime`],
    ['name like, 1,389 matches', `/channels?filters=${f([{ field_name: 'name', opertator: 'like', value: 'lobby 9' }])}`],
    ['name like, no match (trigram index)', `/channels?filters=${f([{ field_name: 'name', opertator: 'like', value: 'no such camera' }])}`],
    ['devices online=true', `/devices?filters=${f([{ field_name: 'online', opertator: '=', value: true }])}&sort=-addtime`],
  ];
  const selected = scenarios.filter(([name]) => !only || name.includes(only));
  // The client runs in a worker thread: in the server's own thread it would add its CPU to every latency.
  // A walk's paths come from bench/api-walk-request.cjs, loaded by autocannon's worker.
  Object.assign(process.env, { BENCH_WALK_PATH: walk, BENCH_WALK_LIMIT: '20', BENCH_WALK_TOTAL: String(total) });
  const optionsFor = (path: string) => ({
    url: base + path,
    connections,
    workers: 1,
    headers: { authorization: `Bearer ${token}` },
    requests: path === walk ? [{ setupRequest: fileURLToPath(new URL('./api-walk-request.cjs', import.meta.url)) }] : undefined,
  });
  // Warm-up of every shape first (page cache, prepared statements, JIT on both threads): otherwise
  // the first shape measured pays for the seeding's garbage and a cold JIT.
  const totals = new Map<string, number>();
  for (const [name, path] of selected) {
    const check = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
    const body = (await check.json()) as { code: string; data: { total: number } };
    if (check.status !== 200) throw new Error(`${name}: HTTP ${check.status} ${JSON.stringify(body)}`);
    totals.set(name, body.data.total);
    await autocannon({ ...optionsFor(path), duration: 1 });
  }
  const rows: Record<string, string | number>[] = [];
  let measured = 0;
  let fromWorker = 0;
  for (const [name, path, writesPerSecond] of selected) {
    let writes = 0;
    const writer = writesPerSecond
      ? setInterval(() => void ds.query('UPDATE channels SET uptime = uptime + 1 WHERE id = ?', [1 + (writes++ % total)]), 1000 / writesPerSecond)
      : undefined;
    const answered = listWorker?.answered ?? 0;
    const r = await autocannon({ ...optionsFor(path), duration: seconds });
    clearInterval(writer);
    measured += r.requests.total;
    fromWorker += (listWorker?.answered ?? 0) - answered;
    rows.push({ scenario: name, total: totals.get(name)!, 'p50 ms': r.latency.p50, 'p99 ms': r.latency.p99, 'req/s': Math.round(r.requests.average), errors: r.errors + r.non2xx });
  }
  console.table(rows);
  console.log(`autocannon: ${connections} connections, ${seconds} s per scenario, node ${process.version}, target p99 <= 20 ms; list worker answered ${fromWorker} of ${measured} requests`);
  const met = rows.filter((r) => Number(r['p99 ms']) <= 20).length;
  console.log(`api: ${total} channels, ${met}/${rows.length} shapes p99 <= 20 ms, p99 ${rows.map((r) => r['p99 ms']).join('/')} ms, errors ${rows.reduce((n, r) => n + Number(r.errors), 0)}`);
  await http.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
} finally {
  await ds.destroy();
  rmSync(dataDir, { recursive: true, force: true });
}
