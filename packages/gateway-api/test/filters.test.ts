import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '../src/http/errors.ts';
import { likeContains, parseFilters, parseSort, type FilterNode } from '../src/http/filters.ts';
import { channelResource, deviceResource } from '../src/http/resources.ts';

const parse = (v: unknown) => parseFilters(typeof v === 'string' ? v : JSON.stringify(v), channelResource);
const cond = (field_name: string, opertator: string, value: unknown) => ({ field_name, opertator, value });

function rejects(v: unknown, message: RegExp, resource = channelResource) {
  assert.throws(
    () => parseFilters(typeof v === 'string' ? v : JSON.stringify(v), resource),
    (err: unknown) => err instanceof ApiError && err.kind === 'badRequest' && message.test(err.message),
  );
}

describe('parseFilters', () => {
  test('parseFilters() of nothing, an empty string or [] is no filter', () => {
    assert.deepEqual(parseFilters(undefined, channelResource), []);
    assert.deepEqual(parse(''), []);
    assert.deepEqual(parse([]), []);
  });

  test('parseFilters() accepts gosip\'s "opertator" and the correct "operator"', () => {
    const expected: FilterNode[] = [{ kind: 'condition', field: 'status', op: '=', value: 'ON' }];
    assert.deepEqual(parse([cond('status', '=', 'ON')]), expected);
    assert.deepEqual(parse([{ field_name: 'status', operator: '=', value: 'ON' }]), expected);
    assert.deepEqual(parse([{ field_name: 'status', operator: '=', opertator: '=', value: 'ON' }]), expected);
    rejects([{ field_name: 'status', operator: '=', opertator: '>', value: 'ON' }], /both "opertator" and "operator"/);
  });

  test('parseFilters() knows every operator and maps != to <>', () => {
    for (const op of ['=', '>', '<', '>=', '<=', '<>']) assert.equal((parse([cond('addtime', op, 1)])[0] as { op: string }).op, op);
    assert.equal((parse([cond('addtime', '!=', 1)])[0] as { op: string }).op, '<>');
    assert.equal((parse([cond('name', 'LIKE', 'x')])[0] as { op: string }).op, 'like');
    assert.equal((parse([cond('addtime', 'in', [1])])[0] as { op: string }).op, 'in');
    assert.equal((parse([cond('addtime', 'notin', [1])])[0] as { op: string }).op, 'notin');
    rejects([cond('addtime', 'between', 1)], /filters\[0\]\.opertator is not an operator \(allowed: /);
  });

  test('parseFilters() converts values to the field type', () => {
    assert.deepEqual(parse([cond('addtime', '>', '1700000000')])[0], { kind: 'condition', field: 'addtime', op: '>', value: 1700000000 });
    assert.deepEqual(parse([cond('longitude', '>', '116.5')])[0], { kind: 'condition', field: 'longitude', op: '>', value: 116.5 });
    assert.deepEqual(parse([cond('name', '=', 42)])[0], { kind: 'condition', field: 'name', op: '=', value: '42' });
    assert.deepEqual(parseFilters(JSON.stringify([cond('online', '=', 'true')]), deviceResource)[0], { kind: 'condition', field: 'online', op: '=', value: 1 });
    rejects([cond('addtime', '>', 'abc')], /filters\[0\]\.value: "addtime" expects an integer/);
    rejects([cond('addtime', '>', 1.5)], /expects an integer/);
    rejects([cond('deviceid', '=', 34020000001320000001)], /lost precision/);
    rejects([cond('online', '>', true)], /boolean/, deviceResource);
  });

  test('parseFilters() takes in/notin values as an array or a comma string', () => {
    assert.deepEqual((parse([cond('deviceid', 'in', 'a, b,c')])[0] as { value: unknown }).value, ['a', 'b', 'c']);
    assert.deepEqual((parse([cond('ptztype', 'notin', [1, '2'])])[0] as { value: unknown }).value, [1, 2]);
    rejects([cond('ptztype', 'in', [])], /needs at least one value/);
    rejects([cond('ptztype', 'in', Array.from({ length: 101 }, (_, i) => i))], /at most 100 values/);
    rejects([cond('ptztype', 'in', [1, 'x'])], /filters\[0\]\.value\[1\]: "ptztype" expects an integer/);
  });

  test('parseFilters() nests or-groups up to 4 levels and at most 50 conditions', () => {
    let nested: unknown = [cond('status', '=', 'ON')];
    for (let i = 0; i < 4; i++) nested = [{ or: [nested, [cond('status', '=', 'OFF')]] }];
    assert.equal(parse(nested).length, 1);
    rejects([{ or: [nested] }], /nests deeper than 4 levels/);
    assert.equal(parse(Array.from({ length: 50 }, () => cond('addtime', '>', 0))).length, 50);
    rejects(Array.from({ length: 51 }, () => cond('addtime', '>', 0)), /more than 50 conditions/);
    rejects([{ or: Array.from({ length: 26 }, () => [cond('addtime', '>', 0), cond('addtime', '<', 9)]) }], /more than 50 conditions/);
  });

  test('parseFilters() names the position of a problem but never echoes a hostile name', () => {
    rejects([cond('status', '=', 'ON'), { or: [[cond('name; DROP TABLE channels', '=', 1)]] }], /^filters\[1\]\.or\[0\]\[0\]\.field_name is not a filterable field of channels/);
    assert.throws(
      () => parse([cond('name; DROP TABLE channels', '=', 1)]),
      (err: Error) => !err.message.includes('DROP'),
    );
    rejects([cond('colour', '=', 1)], /^filters\[0\]\.field_name is not a filterable field of channels \(allowed: channelid, deviceid, name/);
    rejects([cond('__proto__', '=', 1)], /is not a filterable field/);
    rejects('[{', /^filters is not valid JSON$/);
    rejects(`[${'{"field_name":"name","opertator":"=","value":"x"},'.repeat(400)}]`, /^filters is longer than 16384 characters$/);
    rejects({ field_name: 'name' }, /^filters must be a JSON array/);
  });
});

describe('parseSort', () => {
  test('parseSort() defaults to -addtime and reads a comma list with - for descending', () => {
    assert.deepEqual(parseSort(undefined, channelResource), [{ field: 'addtime', direction: 'DESC' }]);
    assert.deepEqual(parseSort('name,-ptztype,+fps', channelResource), [
      { field: 'name', direction: 'ASC' },
      { field: 'ptztype', direction: 'DESC' },
      { field: 'fps', direction: 'ASC' },
    ]);
  });

  test('parseSort() rejects fields outside the whitelist, duplicates and long lists', () => {
    for (const bad of ['name desc', 'id', 'password', 'random()', 'name,name', 'a,b,c,d,e,f']) {
      assert.throws(() => parseSort(bad, channelResource), ApiError, bad);
    }
  });
});

test('likeContains() escapes % _ and ! so a like filter means "contains"', () => {
  assert.equal(likeContains('50%_off!'), '%50!%!_off!!%');
});
