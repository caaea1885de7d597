// A table of valid filters, run over HTTP against SQLite and MariaDB. Each result is checked against
// an independent in-memory evaluation of the same filter, so both databases give identical results.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseFilters, parseSort, type FilterNode } from '../src/http/filters.ts';
import { channelResource, deviceResource, type ResourceFields } from '../src/http/resources.ts';
import { ChannelEntity, DeviceEntity } from '../src/storage/entities.ts';
import { forEachDatabase } from './support/databases.ts';
import { qs, startApi, type ApiUnderTest } from './support/api-server.ts';

type Row = Record<string, unknown>;
const names = ['gate', 'yard east', 'yard_west', '100%', 'a!b', "o'brien", '门口', 'back door', 'gate2', 'lobby'];
const dev = (k: number) => `340200000013200000${String(k).padStart(2, '0')}`;

const channelSeed = Array.from({ length: 40 }, (_, i) => ({
  channelid: `34020000001310${String(i + 1).padStart(6, '0')}`,
  deviceid: dev((i % 4) + 1),
  name: names[i % names.length]!,
  memo: i % 6 === 0 ? '' : `memo ${i}`,
  status: i % 3 === 0 ? 'OFF' : 'ON',
  parental: i % 2,
  ptztype: i % 5,
  longitude: 116 + i * 0.125,
  latitude: 39.5 + (i % 7) * 0.25,
  width: [0, 640, 1280, 1920][i % 4]!,
  civilcode: '340200',
  addtime: 1_700_000_000 + i * 100,
  uptime: 1_700_000_000 + (i % 9) * 1000,
}));
const deviceSeed = Array.from({ length: 8 }, (_, i) => ({
  deviceid: dev(i + 1),
  name: `nvr ${i}`,
  password: 'x',
  online: i % 3 !== 1,
  port: 5060 + i,
  addtime: 1_700_000_000 + i,
}));

// The oracle: what a filter means, evaluated in JS over the rows the API lists.
function matches(nodes: FilterNode[], row: Row): boolean {
  return nodes.every((node) => {
    if (node.kind === 'or') return node.groups.some((g) => matches(g, row));
    const raw = row[node.field];
    const v = typeof raw === 'boolean' ? Number(raw) : (raw as string | number);
    const values = Array.isArray(node.value) ? node.value : [node.value];
    switch (node.op) {
      case '=':
        return v === node.value;
      case '<>':
        return v !== node.value;
      case '>':
        return v > (node.value as string | number);
      case '<':
        return v < (node.value as string | number);
      case '>=':
        return v >= (node.value as string | number);
      case '<=':
        return v <= (node.value as string | number);
      case 'in':
        return values.includes(v);
      case 'notin':
        return !values.includes(v);
      case 'like':
        return String(v).toLowerCase().includes(String(node.value).toLowerCase());
    }
  });
}

function expected(rows: Row[], resource: ResourceFields, q: { filters?: unknown; sort?: string; limit?: number; skip?: number }, idField: string) {
  const nodes = parseFilters(q.filters === undefined ? undefined : JSON.stringify(q.filters), resource);
  const keys = parseSort(q.sort, resource);
  const hits = rows.filter((r) => matches(nodes, r));
  hits.sort((a, b) => {
    for (const k of keys) {
      const x = a[k.field] as string | number;
      const y = b[k.field] as string | number;
      if (x !== y) return (x < y ? -1 : 1) * (k.direction === 'DESC' ? -1 : 1);
    }
    // the API breaks ties by insertion order (id) in the first key's direction
    const dir = keys[0]?.direction === 'DESC' ? -1 : 1;
    return (rows.indexOf(a) - rows.indexOf(b)) * dir;
  });
  const skip = q.skip ?? 0;
  return { total: hits.length, ids: hits.slice(skip, skip + (q.limit ?? 20)).map((r) => r[idField]) };
}

const c = (field_name: string, opertator: string, value: unknown) => ({ field_name, opertator, value });
const D1 = dev(1);
const D2 = dev(2);

const channelCases: { name: string; filters?: unknown; sort?: string; limit?: number; skip?: number; minHits?: number }[] = [
  { name: 'no filter, default sort -addtime', limit: 100 },
  { name: 'status = ON', filters: [c('status', '=', 'ON')], limit: 100 },
  { name: 'status <> ON', filters: [c('status', '<>', 'ON')], limit: 100 },
  { name: 'status != ON', filters: [c('status', '!=', 'ON')], limit: 100 },
  { name: 'addtime > n', filters: [c('addtime', '>', 1_700_001_000)], limit: 100 },
  { name: 'addtime >= n as a string', filters: [c('addtime', '>=', '1700001000')], limit: 100 },
  { name: 'addtime < n', filters: [c('addtime', '<', 1_700_001_000)], limit: 100 },
  { name: 'addtime <= n', filters: [c('addtime', '<=', 1_700_001_000)], limit: 100 },
  { name: 'deviceid in array', filters: [c('deviceid', 'in', [D1, D2])], limit: 100 },
  { name: 'deviceid in comma string', filters: [c('deviceid', 'in', `${D1},${D2}`)], limit: 100 },
  { name: 'deviceid notin', filters: [c('deviceid', 'notin', [D1])], limit: 100 },
  { name: 'name like gate', filters: [c('name', 'like', 'gate')], limit: 100 },
  { name: 'like % is a literal percent', filters: [c('name', 'like', '%')], limit: 100 },
  { name: 'like _ is a literal underscore', filters: [c('name', 'like', '_')], limit: 100 },
  { name: 'like ! is a literal bang', filters: [c('name', 'like', '!')], limit: 100 },
  { name: "like ' is a literal quote", filters: [c('name', 'like', "'")], limit: 100 },
  { name: 'Chinese name =', filters: [c('name', '=', '门口')], limit: 100 },
  { name: 'Chinese name like', filters: [c('name', 'like', '门')], limit: 100 },
  { name: 'longitude > decimal', filters: [c('longitude', '>', 117.5)], limit: 100 },
  { name: 'latitude <= decimal string', filters: [c('latitude', '<=', '40')], limit: 100 },
  { name: 'longitude in decimals', filters: [c('longitude', 'in', '116.125,116.25')], limit: 100 },
  { name: 'ptztype in', filters: [c('ptztype', 'in', [1, 2])], limit: 100 },
  { name: 'parental = "1"', filters: [c('parental', '=', '1')], limit: 100 },
  { name: 'width notin comma string', filters: [c('width', 'notin', '0,640')], limit: 100 },
  { name: 'empty memo', filters: [c('memo', '=', '')], limit: 100 },
  { name: 'operator spelled correctly', filters: [{ field_name: 'status', operator: '=', value: 'OFF' }], limit: 100 },
  { name: 'or of two conditions', filters: [{ or: [[c('status', '=', 'OFF')], [c('ptztype', '=', 4)]] }], limit: 100 },
  {
    name: 'AND with nested or groups',
    filters: [
      c('status', '=', 'ON'),
      { or: [[c('deviceid', '=', D1), c('width', '>=', 1280)], [{ or: [[c('name', 'like', 'yard')], [c('name', 'like', 'gate')]] }]] },
    ],
    limit: 100,
  },
  {
    name: 'four levels of or',
    filters: [{ or: [[{ or: [[{ or: [[{ or: [[c('ptztype', '=', 1)], [c('ptztype', '=', 2)]] }], [c('width', '=', 0)]] }], [c('status', '=', 'OFF')]] }], [c('name', '=', 'lobby')]] }],
    limit: 100,
  },
  { name: '50 conditions', filters: Array.from({ length: 50 }, (_, i) => c('addtime', '>', 1_699_999_000 + i)), limit: 100 },
  { name: 'sort by two numeric keys', filters: [c('status', '=', 'ON')], sort: 'ptztype,-channelid', limit: 100 },
  { name: 'sort by decimals', sort: 'latitude,-longitude', limit: 100 },
  { name: 'sort by name over plain names', filters: [c('name', 'in', ['gate', 'lobby', 'gate2'])], sort: 'name', limit: 100 },
  { name: 'sort with ties broken stably', sort: '-uptime', limit: 100 },
  { name: 'page 2 of a filtered list', filters: [c('status', '=', 'ON')], sort: 'addtime', limit: 5, skip: 5 },
  { name: 'skip past the end', filters: [c('status', '=', 'ON')], limit: 5, skip: 1000, minHits: 0 },
];

const deviceCases: typeof channelCases = [
  { name: 'online = true', filters: [c('online', '=', true)], limit: 100 },
  { name: 'online = "false"', filters: [c('online', '=', 'false')], limit: 100 },
  { name: 'online in [1]', filters: [c('online', 'in', [1])], limit: 100 },
  { name: 'port >= 5063 sorted by port', filters: [c('port', '>=', 5063)], sort: '-port', limit: 100 },
];

forEachDatabase((dbName, makeDataSource) => {
  describe(`filters on ${dbName}`, () => {
    let api: ApiUnderTest;
    let channels: Row[];
    let devices: Row[];
    before(async () => {
      const ds = await makeDataSource();
      await ds.getRepository(DeviceEntity).insert(deviceSeed);
      await ds.getRepository(ChannelEntity).insert(channelSeed);
      api = await startApi(ds);
      // oracle input: rows as the API shows them, in insertion (id) order
      channels = (await api.request('GET', '/channels?limit=1000&sort=channelid')).body.data.list;
      devices = (await api.request('GET', '/devices?limit=1000&sort=deviceid')).body.data.list;
      assert.equal(channels.length, channelSeed.length);
    });
    after(() => api.close());

    for (const [resource, path, cases, idField, rows] of [
      [channelResource, '/channels', channelCases, 'channelid', () => channels],
      [deviceResource, '/devices', deviceCases, 'deviceid', () => devices],
    ] as const) {
      for (const tc of cases) {
        test(`GET ${path} with ${tc.name} returns what the filter means`, async () => {
          const want = expected(rows(), resource, tc, idField);
          if ((tc.minHits ?? 1) > 0) assert.ok(want.ids.length > 0, 'the case must select something');
          const params: Record<string, string | number | object> = {};
          if (tc.filters !== undefined) params.filters = tc.filters as object;
          if (tc.sort !== undefined) params.sort = tc.sort;
          if (tc.limit !== undefined) params.limit = tc.limit;
          if (tc.skip !== undefined) params.skip = tc.skip;
          const res = await api.request('GET', path + qs(params));
          assert.equal(res.status, 200, res.text);
          assert.equal(res.body.data.total, want.total);
          assert.deepEqual(
            res.body.data.list.map((r: Row) => r[idField]),
            want.ids,
          );
        });
      }
    }

    test('GET /devices/:id/channels applies filters inside the device', async () => {
      const res = await api.request('GET', `/devices/${D1}/channels` + qs({ filters: [c('status', '=', 'ON')], limit: 100 }));
      assert.equal(res.status, 200, res.text);
      const want = channels.filter((r) => r.deviceid === D1 && r.status === 'ON').length;
      assert.ok(want > 0);
      assert.equal(res.body.data.total, want);
      assert.ok(res.body.data.list.every((r: Row) => r.deviceid === D1 && r.status === 'ON'));
    });
  });
});
