// More than a hundred hostile list requests (SQL in names, values and sort; deep nesting; huge
// arrays; wrong types; broken JSON) against SQLite and MariaDB: each gets 400 "1002" with a message
// naming the problem, no response carries SQL or driver text, and the database is unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DataSource } from 'typeorm';
import { ChannelEntity, DeviceEntity, StreamEntity } from '../src/storage/entities.ts';
import { forEachDatabase } from './support/databases.ts';
import { startApi, type ApiUnderTest } from './support/api-server.ts';

const c = (field_name: unknown, opertator: unknown, value: unknown) => ({ field_name, opertator, value });
const J = (v: unknown) => JSON.stringify(v);
const nest = (depth: number): unknown => {
  let n: unknown = [c('status', '=', 'ON')];
  for (let i = 0; i < depth; i++) n = [{ or: [n] }];
  return n;
};

const hostileFieldNames = [
  'name; DROP TABLE channels',
  'name--',
  '1=1',
  'name) OR (1=1',
  'r.name',
  'channels.name',
  '`name`',
  '"name"',
  'name OR 1=1',
  'id',
  'password',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'toString',
  'NAME',
  ' name',
  'name ',
  '',
  'name\u0000',
  '(SELECT 1)',
  'sqlite_master',
  'name/**/',
  "name'",
  'CASE WHEN 1 THEN name END',
];
const hostileOperators = ['= 1 OR 1=1 --', ';', 'IS NULL', 'between', 'regexp', '=1;DROP TABLE channels', '', '  ', 'glob', '<=>', 'LIKE BINARY', 'not like', '== =', '||'];
const hostileSorts = [
  'name;DROP TABLE channels',
  'name desc',
  '-name,--',
  '(select 1)',
  '1',
  'name,name',
  '-',
  'random()',
  'id',
  'password',
  'name ASC',
  'a,b,c,d,e,f',
  'x'.repeat(300),
  '-(name)',
  'name\n--',
  'CASE WHEN 1=1 THEN name ELSE channelid END',
  'name COLLATE NOCASE',
  '__proto__',
];
const hostileFilters: string[] = [
  // SQL in field names
  ...hostileFieldNames.map((f) => J([c(f, '=', 'x')])),
  ...hostileFieldNames.slice(0, 5).map((f) => J([{ or: [[c(f, '=', 'x')]] }])),
  // operators
  ...hostileOperators.map((op) => J([c('name', op, 'x')])),
  // SQL in values of typed fields
  J([c('addtime', '>', '0 OR 1=1')]),
  J([c('addtime', '=', '1; DROP TABLE channels')]),
  J([c('ptztype', 'in', ['1', '2) OR (1=1'])]),
  J([c('ptztype', 'in', '1,2) OR (1=1')]),
  J([c('longitude', '>', '1 UNION SELECT password FROM devices')]),
  J([c('latitude', '<', 'NaN')]),
  J([c('width', '=', '0x10')]),
  J([c('height', '=', '1e3')]),
  J([c('parental', '=', true)]),
  J([c('addtime', '>', ' ')]),
  // deep nesting
  J(nest(5)),
  J(nest(50)),
  '[{"or":['.repeat(300) + J([c('status', '=', 'ON')]) + ']}]'.repeat(300),
  '['.repeat(2000) + ']'.repeat(2000),
  '[{}'.repeat(1000) + ']'.repeat(1000),
  // huge arrays
  J(Array.from({ length: 51 }, () => c('addtime', '>', 0))),
  J(Array.from({ length: 120 }, () => c('addtime', '>', 0))),
  J([c('ptztype', 'in', Array.from({ length: 101 }, (_, i) => i))]),
  J([c('deviceid', 'in', Array.from({ length: 2000 }, (_, i) => String(i)).join(','))]),
  J([{ or: Array.from({ length: 51 }, () => [c('addtime', '>', 0)]) }]),
  J([{ or: Array.from({ length: 30 }, () => [c('addtime', '>', 0), c('addtime', '<', 1)]) }]),
  J([c('name', '=', 'x'.repeat(300))]),
  'x'.repeat(14_000),
  // wrong types
  J([c('name', '=', null)]),
  J([c('name', '=', {})]),
  J([c('name', '=', { $ne: 1 })]),
  J([c('name', '=', [[1]])]),
  J([c('name', 'in', [])]),
  J([c('name', 'in', [null])]),
  J([c(5, '=', 'x')]),
  J([c(null, '=', 'x')]),
  J([c(['name'], '=', 'x')]),
  J([c('name', 5, 'x')]),
  J([c('name', ['='], 'x')]),
  J([{ field_name: 'name', value: 'x' }]),
  J([{ field_name: 'name', opertator: '=' }]),
  J([{ opertator: '=', value: 'x' }]),
  J([{ ...c('name', '=', 'x'), sql: '1=1' }]),
  J([{ field_name: 'name', opertator: '=', operator: '>', value: 'x' }]),
  J([c('addtime', '>', 1.5)]),
  J([c('addtime', '>', 'abc')]),
  J([c('addtime', 'like', '1')]),
  J([c('longitude', 'like', '1')]),
  J([c('deviceid', '=', 34020000001320000001)]),
  J([c('name', '=', 'x'), 'status=ON']),
  J([5]),
  J([null]),
  J([[c('name', '=', 'x')]]),
  J({ field_name: 'name', opertator: '=', value: 'x' }),
  J('x'),
  'null',
  'true',
  '5',
  J([{ or: {} }]),
  J([{ or: [] }]),
  J([{ or: [[]] }]),
  J([{ or: [c('name', '=', 'x')] }]),
  J([{ or: [[c('name', '=', 'x')]], field_name: 'name' }]),
  J([{ or: 'name=x' }]),
  // broken JSON
  '[',
  '[{',
  "[{'field_name':'name','opertator':'=','value':'x'}]",
  '[{"field_name":"name",}]',
  'NaN',
  'undefined',
  '%',
  '[1,]',
  '\u0000',
  ']]]]',
  '[{"field_name":"name" "opertator":"="}]',
  '[{"field_name":"name","opertator":"=","value":1e400}]',
  "'; DROP TABLE channels; --",
  'SELECT * FROM devices',
];

// Requests stay under Node's 16 KB header limit (beyond it Node itself answers 431 before the app).
const hostileQueries: { path: string; query: string; expect: RegExp }[] = [
  ...hostileFilters.map((f) => ({ path: '/channels', query: `filters=${encodeURIComponent(f)}`, expect: /^filters/ })),
  ...hostileSorts.map((s) => ({ path: '/channels', query: `sort=${encodeURIComponent(s)}`, expect: /^(sort|query\.sort)/ })),
  { path: '/devices', query: `filters=${encodeURIComponent(J([c('password', '=', 'x')]))}`, expect: /^filters\[0\]\.field_name is not a filterable field of devices/ },
  { path: '/devices', query: `filters=${encodeURIComponent(J([c('online', '>', 1)]))}`, expect: /^filters\[0\]: "online" is a boolean/ },
  { path: '/devices', query: `filters=${encodeURIComponent(J([c('online', '=', 'yes')]))}`, expect: /^filters\[0\]\.value: "online" expects true or false/ },
  { path: '/devices', query: 'sort=password', expect: /^sort\[0\] is not a sortable field/ },
  { path: '/streams', query: `filters=${encodeURIComponent(J([c('dialog', '=', 'x')]))}`, expect: /^filters\[0\]\.field_name is not a filterable field of streams/ },
  { path: '/streams', query: 'sort=node', expect: /^sort/ },
  { path: '/devices/34020000001320000001/channels', query: `filters=${encodeURIComponent('[')}`, expect: /^filters is not valid JSON/ },
  { path: '/channels', query: 'limit=abc', expect: /^query\.limit/ },
  { path: '/channels', query: 'limit=0', expect: /^query\.limit/ },
  { path: '/channels', query: 'limit=1e9999', expect: /^query\.limit/ },
  { path: '/channels', query: 'limit=1;DROP TABLE channels', expect: /^query\.limit/ },
  { path: '/channels', query: 'limit=1&limit=2', expect: /^query\.limit/ },
  { path: '/channels', query: 'skip=-1', expect: /^query\.skip/ },
  { path: '/channels', query: 'skip=abc', expect: /^query\.skip/ },
  { path: '/channels', query: 'skip=1e10', expect: /^query\.skip/ },
  { path: '/channels', query: 'filters=a&filters=b', expect: /^query\.filters/ },
];

// SQL in the values of text fields is data, not an error: bound as a parameter, it matches nothing.
const sqlTextValues = ["' OR '1'='1", "x'; DROP TABLE channels; --", '1) OR (1=1', '%\' OR 1=1 --', '" OR ""="', '\\\' OR 1=1 --'];

const leak = /\b(select|insert|update|delete|drop|union|pragma)\b|sqlite|maria|mysql|typeorm|QueryFailed|syntax|SQLITE_|ER_[A-Z]|stack|at \/|node_modules/i;

async function counts(ds: DataSource): Promise<number[]> {
  return [await ds.getRepository(DeviceEntity).count(), await ds.getRepository(ChannelEntity).count(), await ds.getRepository(StreamEntity).count()];
}

test('the hostile corpus has at least 100 inputs that must be refused', () => {
  assert.ok(hostileQueries.length >= 100, String(hostileQueries.length));
});

forEachDatabase((dbName, makeDataSource) => {
  describe(`hostile list requests on ${dbName}`, () => {
    let api: ApiUnderTest;
    let before0: number[];
    before(async () => {
      const ds = await makeDataSource();
      await ds.getRepository(DeviceEntity).insert({ deviceid: '34020000001320000001', name: 'nvr', password: 'hunter2hunter2' });
      await ds.getRepository(ChannelEntity).insert(
        Array.from({ length: 5 }, (_, i) => ({ channelid: `3402000000131000000${i}`, deviceid: '34020000001320000001', name: `cam ${i}`, status: 'ON' })),
      );
      api = await startApi(ds);
      before0 = await counts(ds);
    });
    after(() => api.close());

    test(`each of the ${hostileQueries.length} hostile inputs gets 400 "1002" naming the problem, no SQL text`, async () => {
      for (const h of hostileQueries) {
        const res = await api.request('GET', `${h.path}?${h.query}`);
        const label = `${h.path}?${h.query.slice(0, 120)}`;
        assert.equal(res.status, 400, `${label} -> ${res.status} ${res.text.slice(0, 300)}`);
        assert.equal(res.body.code, '1002', label);
        assert.equal(typeof res.body.data, 'string', label);
        assert.match(res.body.data, h.expect, label);
        assert.ok(res.body.data.length < 600, `${label}: message too long`);
        assert.doesNotMatch(res.text, leak, label);
        assert.ok(!res.text.includes('hunter2'), label);
      }
    });

    test('SQL text in the values of text fields is bound as data and matches nothing', async () => {
      for (const v of sqlTextValues) {
        for (const op of ['=', 'like', 'in', '<>']) {
          const res = await api.request('GET', `/channels?filters=${encodeURIComponent(J([c('name', op, op === 'in' ? [v] : v)]))}`);
          assert.equal(res.status, 200, `${op} ${v}: ${res.text}`);
          assert.equal(res.body.data.total, op === '<>' ? 5 : 0, `${op} ${v}`);
        }
      }
    });

    test('after all of it the database is unchanged', async () => {
      assert.deepEqual(await counts(api.dataSource), before0);
      const names = (await api.dataSource.getRepository(ChannelEntity).find({ order: { channelid: 'ASC' } })).map((r) => r.name);
      assert.deepEqual(names, ['cam 0', 'cam 1', 'cam 2', 'cam 3', 'cam 4']);
    });
  });
});
