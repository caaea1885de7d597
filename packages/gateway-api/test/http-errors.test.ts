import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiError, apiErrors, deviceFailure, toApiError } from '../src/http/errors.ts';
import { NotFoundError, PlayError } from '../src/play/play-errors.ts';
import type { PlayService } from '../src/services.ts';
import { StreamEntity } from '../src/storage/entities.ts';
import { forEachDatabase } from './support/databases.ts';
import { startApi, type ApiUnderTest } from './support/api-server.ts';

describe('the error table', () => {
  test('every failure kind has one HTTP status and one gosip code', () => {
    assert.deepEqual(apiErrors, {
      badRequest: { status: 400, code: '1002' },
      unauthorized: { status: 401, code: '1000' },
      notFound: { status: 404, code: '1002' },
      methodNotAllowed: { status: 405, code: '1002' },
      conflict: { status: 409, code: '1002' },
      deviceFailed: { status: 502, code: '1002' },
      deviceTimeout: { status: 504, code: '1002' },
      storageUnavailable: { status: 503, code: '1001' },
      serviceUnavailable: { status: 503, code: '1003' },
      internal: { status: 500, code: '1003' },
    });
  });

  const driverDown = (code: string) => Object.assign(new Error('driver text: connect ECONNREFUSED 127.0.0.1:3306'), { name: 'QueryFailedError', driverError: { code } });
  const cases: [string, unknown, number, string, string | RegExp][] = [
    ['an ApiError passes through', new ApiError('conflict', 'busy'), 409, '1002', 'busy'],
    ['a refused database connection', driverDown('ECONNREFUSED'), 503, '1001', 'storage unavailable'],
    ['a lost MariaDB connection', driverDown('PROTOCOL_CONNECTION_LOST'), 503, '1001', 'storage unavailable'],
    ['a closed pool', new Error('Pool is closed.'), 503, '1001', 'storage unavailable'],
    ['a closed SQLite handle', new TypeError('The database connection is not open'), 503, '1001', 'storage unavailable'],
    ['a SQL syntax error', Object.assign(new Error('SQLITE_ERROR: near "x": syntax error'), { name: 'QueryFailedError', code: 'SQLITE_ERROR' }), 500, '1003', 'internal error'],
    ['any other exception', new RangeError('boom at /src/x.ts:1'), 500, '1003', 'internal error'],
    ['a PlayError 404', new NotFoundError('channel x not found'), 404, '1002', 'channel x not found'],
    ['a PlayError 409', new PlayError('device d is offline', { status: 409 }), 409, '1002', 'device d is offline'],
    ['a PlayError 504', new PlayError('no media within 10 s', { status: 504 }), 504, '1002', 'no media within 10 s'],
    ['a PlayError 503', new PlayError('the gateway is shutting down', { status: 503 }), 503, '1003', 'the gateway is shutting down'],
  ];
  for (const [name, err, status, code, message] of cases) {
    test(`toApiError() maps ${name} to ${status} "${code}"`, () => {
      const e = toApiError(err);
      assert.equal(e.status, status);
      assert.equal(e.code, code);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
    });
  }

  test('deviceFailure() says what failed without SIP text', () => {
    const sip = Object.assign(new Error('SIP/2.0 486 Busy Here\r\nVia: ...'), { name: 'SipResponseError', status: 486 });
    assert.equal(deviceFailure('play', sip).message, 'play failed: the device answered 486');
    assert.equal(deviceFailure('play', sip).status, 502);
    const timeout = Object.assign(new Error('t'), { name: 'QueryTimeoutError' });
    assert.equal(deviceFailure('catalog query', timeout).message, 'catalog query failed: the device did not answer in time');
    assert.equal(deviceFailure('catalog query', timeout).status, 504);
  });
});

forEachDatabase((dbName, makeDataSource) => {
  describe(`HTTP envelope and errors on ${dbName}`, () => {
    let api: ApiUnderTest;
    let storageUp = true;
    const brokenPlay: PlayService = {
      play: async () => ({ streamid: 'x' }),
      stop: async () => undefined,
      stopDevice: async () => undefined,
      urls: () => ({ rtmp: '', flv: '', wsflv: '', http: '' }),
      liveStats: () => {
        throw new Error('SELECT secret FROM internals');
      },
    };
    before(async () => {
      const ds = await makeDataSource();
      await ds.getRepository(StreamEntity).insert({ streamid: 'ABC1', ssrc: '0200000001', deviceid: 'd', channelid: 'c' });
      api = await startApi(ds, { storageUp: () => storageUp, play: brokenPlay });
    });
    after(() => api.close());

    test('every answer carries the envelope with the request id', async () => {
      const res = await api.request('GET', '/devices', { headers: { 'x-request-id': 'req-42' } });
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.body), ['code', 'msgid', 'data']);
      assert.equal(res.body.code, '0');
      assert.equal(res.body.msgid, 'req-42');
      assert.equal(res.headers.get('x-request-id'), 'req-42');
    });

    test('an unknown path is 404 and a known path with another method is 405, both enveloped', async () => {
      const missing = await api.request('GET', '/nothing/here');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, '1002');
      assert.equal(missing.body.data, 'no route GET /nothing/here');
      const put = await api.request('PUT', '/devices');
      assert.equal(put.status, 405);
      assert.equal(put.headers.get('allow'), 'GET, POST');
      assert.match(put.body.data, /PUT is not supported here/);
    });

    test('a body that is not JSON is 400 naming the body', async () => {
      const res = await api.request('POST', '/devices', { rawBody: '{"name": ', headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400);
      assert.equal(res.body.code, '1002');
      assert.equal(res.body.data, 'the request body is not valid JSON or form data');
      const big = await api.request('POST', '/devices', { json: { name: 'x'.repeat(300_000) } });
      assert.equal(big.status, 400);
      assert.equal(big.body.data, 'the request body is too large');
    });

    test('an unexpected exception is 500 "1003" without its text', async () => {
      const res = await api.request('GET', '/streams/ABC1');
      assert.equal(res.status, 500);
      assert.deepEqual([res.body.code, res.body.data], ['1003', 'internal error']);
      assert.ok(!res.text.includes('SELECT'));
    });

    test('storage reported down is 503 "1001" on data routes, and /health says so', async () => {
      storageUp = false;
      try {
        const res = await api.request('GET', '/devices');
        assert.equal(res.status, 503);
        assert.deepEqual([res.body.code, res.body.data], ['1001', 'storage unavailable']);
        const health = await api.request('GET', '/health', { token: null });
        assert.equal(health.status, 503);
        assert.equal(health.body.data.db, 'down');
      } finally {
        storageUp = true;
      }
      assert.equal((await api.request('GET', '/health', { token: null })).body.data.db, 'up');
    });

    test('a database that went away answers 503 "1001", not 500', async () => {
      await api.dataSource.destroy();
      const res = await api.request('GET', '/channels');
      assert.equal(res.status, 503, res.text);
      assert.equal(res.body.code, '1001');
      const create = await api.request('POST', '/devices', { json: {} });
      assert.equal(create.status, 503, create.text);
      assert.doesNotMatch(res.text + create.text, /sqlite|maria|mysql|pool|typeorm/i);
    });
  });
});
