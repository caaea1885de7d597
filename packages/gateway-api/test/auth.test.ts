import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bearerToken, tokenMatches } from '../src/http/auth.ts';
import { loadConfig } from '../src/config.ts';
import { forEachDatabase } from './support/databases.ts';
import { startApi, testToken, type ApiUnderTest } from './support/api-server.ts';

test('tokenMatches() accepts any configured token and nothing else', () => {
  assert.ok(tokenMatches(['a1', 'b2'], 'b2'));
  assert.ok(!tokenMatches(['a1', 'b2'], 'b'));
  assert.ok(!tokenMatches(['a1'], undefined));
  assert.ok(!tokenMatches([''], ''));
  assert.equal(bearerToken('Bearer abc'), 'abc');
  assert.equal(bearerToken('bearer  abc '), 'abc');
  assert.equal(bearerToken('Basic abc'), undefined);
  assert.equal(bearerToken(undefined), undefined);
});

forEachDatabase((dbName, makeDataSource) => {
  if (dbName !== 'sqlite') return; // auth does not depend on the database kind
  describe('bearer tokens', () => {
    let api: ApiUnderTest;
    let open: ApiUnderTest;
    let generated: ApiUnderTest;
    let generatedToken: string;
    let dataDir: string;
    before(async () => {
      const ds = await makeDataSource();
      api = await startApi(ds, { config: { apiTokens: [testToken, 'second-token'], apiAuth: true, serverId: '34020000002000000001' } });
      open = await startApi(ds, { config: { apiTokens: [], apiAuth: false, serverId: '34020000002000000001' } });
      // GB_API_TOKEN unset: config generates one into the data dir; the API must accept it.
      dataDir = mkdtempSync(join(tmpdir(), 'gb-auth-'));
      const config = loadConfig({ GB_DATA_DIR: dataDir });
      assert.equal(config.apiTokens.length, 1);
      generatedToken = config.apiTokens[0]!;
      assert.equal(config.generated.apiToken, generatedToken);
      generated = await startApi(ds, { config: { apiTokens: config.apiTokens, apiAuth: config.apiAuth, serverId: config.serverId } });
    });
    after(async () => {
      await Promise.all([api.close(), open.close(), generated.close()]);
      rmSync(dataDir, { recursive: true, force: true });
    });

    const guarded = ['/devices', '/channels', '/streams', '/devices/34020000001320000001', '/metrics'];

    test('every route but the open ones answers 401 "1000" without a token', async () => {
      for (const path of guarded) {
        const res = await api.request('GET', path, { token: null });
        assert.equal(res.status, 401, path);
        assert.equal(res.body.code, '1000', path);
        assert.equal(res.body.data, 'missing Authorization: Bearer <token>');
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      }
      const post = await api.request('POST', '/devices', { token: null, json: {} });
      assert.equal(post.status, 401);
      assert.equal((await api.request('GET', '/devices?limit=1000')).body.data.total, 0, 'nothing was created');
    });

    test('a wrong token or another scheme is 401', async () => {
      assert.equal((await api.request('GET', '/devices', { token: 'nope' })).status, 401);
      assert.equal((await api.request('GET', '/devices', { token: null, headers: { authorization: `Basic ${testToken}` } })).status, 401);
      assert.equal((await api.request('GET', '/devices', { token: null, headers: { authorization: testToken } })).status, 401);
      assert.equal((await api.request('GET', '/devices', { token: 'nope' })).body.data, 'the bearer token is not valid');
    });

    test('each configured token is accepted', async () => {
      assert.equal((await api.request('GET', '/devices')).status, 200);
      assert.equal((await api.request('GET', '/devices', { token: 'second-token' })).status, 200);
      const metrics = await api.request('GET', '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.text, /gb_api_requests_total\{method="GET",route="\/devices",status="200"\} \d+/);
      assert.match(metrics.text, /gb_api_requests_total\{method="GET",route="unmatched",status="401"\} \d+/);
    });

    test('/health, /openapi.json and /swagger stay open', async () => {
      for (const path of ['/health', '/openapi.json', '/swagger', '/swagger/swagger-ui.css']) {
        assert.equal((await api.request('GET', path, { token: null })).status, 200, path);
      }
    });

    test('GB_API_AUTH=off opens the API', async () => {
      assert.equal((await open.request('GET', '/devices', { token: null })).status, 200);
    });

    test('the token generated at first start is required, accepted and kept for the next start', async () => {
      assert.match(generatedToken, /^[\w-]{20,}$/);
      assert.equal((await generated.request('GET', '/devices', { token: null })).status, 401);
      assert.equal((await generated.request('GET', '/devices', { token: generatedToken })).status, 200);
      const again = loadConfig({ GB_DATA_DIR: dataDir });
      assert.deepEqual(again.apiTokens, [generatedToken]);
      assert.equal(again.generated.apiToken, undefined, 'printed only at the first start');
    });
  });
});
