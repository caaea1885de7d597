import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { forEachDatabase } from './support/databases.ts';
import { startApi, type ApiUnderTest } from './support/api-server.ts';

// The routes of ../shared/spec/api.md, in OpenAPI path form.
const contract = [
  'post /devices',
  'get /devices',
  'get /devices/{id}',
  'post /devices/{id}',
  'patch /devices/{id}',
  'delete /devices/{id}',
  'post /devices/{id}/catalog',
  'post /devices/{id}/channels',
  'get /devices/{id}/channels',
  'get /channels',
  'get /channels/{id}',
  'post /channels/{id}',
  'delete /channels/{id}',
  'post /channels/{id}/streams',
  'get /streams',
  'get /streams/{id}',
  'delete /streams/{id}',
  'get /channels/{id}/records',
  'get /records',
  'get /health',
  'get /metrics',
  'get /openapi.json',
  'get /swagger',
];

type Json = Record<string, unknown>;
type Operation = {
  summary: string;
  security: unknown[];
  parameters: { name: string; in: string; required: boolean; schema: Json }[];
  requestBody?: { content: Record<string, { schema: Json }> };
  responses: Record<string, { content: Record<string, { schema: Json }> }>;
};

forEachDatabase((dbName, makeDataSource) => {
  if (dbName !== 'sqlite') return;
  describe('OpenAPI and Swagger UI', () => {
    let api: ApiUnderTest;
    let doc: { openapi: string; paths: Record<string, Record<string, Operation>>; components: Json };
    before(async () => {
      api = await startApi(await makeDataSource());
      const res = await api.request('GET', '/openapi.json', { token: null });
      assert.equal(res.status, 200);
      doc = res.body;
    });
    after(() => api.close());

    const operations = () => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ key: `${method} ${path}`, path, method, op })));

    test('/openapi.json is an OpenAPI 3 document with bearer security', () => {
      assert.equal(doc.openapi, '3.0.3');
      assert.deepEqual((doc.components.securitySchemes as Json).bearer, { type: 'http', scheme: 'bearer' });
    });

    test('every route of the contract is documented', () => {
      const documented = new Set(operations().map((o) => o.key));
      for (const route of contract) assert.ok(documented.has(route), `${route} is not in /openapi.json`);
    });

    test('every registered route is documented with its parameters, body and response schemas', () => {
      const documented = new Map(operations().map((o) => [o.key, o.op]));
      assert.equal(documented.size, api.http.routes.length);
      for (const r of api.http.routes) {
        const key = `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`;
        const op = documented.get(key);
        assert.ok(op, `${key} missing`);
        assert.ok(op.summary.length > 5, `${key} has no summary`);
        for (const name of r.path.match(/:(\w+)/g) ?? []) {
          const p = op.parameters.find((x) => x.name === name.slice(1));
          assert.ok(p && p.in === 'path' && p.required && p.schema.type === 'string', `${key}: path parameter ${name}`);
        }
        const ok = op.responses[String(r.status)];
        assert.ok(ok, `${key}: success response ${r.status}`);
        const schema = Object.values(ok.content)[0]!.schema;
        assert.ok(schema.type || schema.properties, `${key}: success schema`);
        if (r.body) {
          assert.ok(op.requestBody?.content['application/json']?.schema.properties, `${key}: JSON body`);
          assert.ok(op.requestBody?.content['application/x-www-form-urlencoded'], `${key}: form body`);
        }
        assert.ok(op.responses['400'] && op.responses['500'], `${key}: error responses`);
        if (r.auth) assert.ok(op.responses['401'], `${key}: 401`);
        assert.equal(op.security.length > 0, r.auth, `${key}: security`);
      }
    });

    test('list routes document limit, skip, sort and filters and the envelope of {total, list}', () => {
      for (const key of ['get /devices', 'get /channels', 'get /streams', 'get /devices/{id}/channels']) {
        const op = operations().find((o) => o.key === key)!.op;
        assert.deepEqual(op.parameters.filter((p) => p.in === 'query').map((p) => p.name), ['limit', 'skip', 'sort', 'filters'], key);
        const env = op.responses['200']!.content['application/json']!.schema as { properties: { code: Json; msgid: Json; data: { properties: Json } } };
        assert.deepEqual(Object.keys(env.properties), ['code', 'msgid', 'data']);
        assert.deepEqual(Object.keys(env.properties.data.properties), ['total', 'list']);
      }
      const devices = operations().find((o) => o.key === 'get /devices')!.op.responses['200']!.content['application/json']!.schema as Json;
      assert.ok(!JSON.stringify(devices).includes('password'), 'device lists never document a password');
      const created = operations().find((o) => o.key === 'post /devices')!.op.responses['201']!.content['application/json']!.schema;
      assert.match(JSON.stringify(created), /"sip"/);
    });

    test('every documented path answers (no documented route is missing from the router)', async () => {
      for (const { path, method } of operations()) {
        const concrete = path.replace('{id}', '34020000001320000001').replace('{file}', 'swagger-ui.css');
        const res = await api.request(method.toUpperCase(), concrete, method === 'get' ? {} : { json: {} });
        assert.ok(!(res.status === 404 && /^no route/.test(res.body?.data ?? '')), `${method} ${path} is documented but not routed`);
        assert.ok(res.status !== 405, `${method} ${path}`);
      }
    });

    test('/swagger serves Swagger UI from the installed swagger-ui-dist, not a CDN', async () => {
      const html = await api.request('GET', '/swagger', { token: null });
      assert.equal(html.status, 200);
      assert.match(html.headers.get('content-type') ?? '', /text\/html/);
      assert.doesNotMatch(html.text, /https?:\/\//);
      const dist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
      for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css', 'swagger-ui-standalone-preset.js']) {
        assert.ok(html.text.includes(`/swagger/${file}`), file);
        const res = await fetch(`${api.base}/swagger/${file}`);
        assert.equal(res.status, 200, file);
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(dist, file))), `${file} is the installed file`);
      }
      for (const bad of ['package.json', '..%2Fpackage.json', 'index.js']) {
        assert.equal((await fetch(`${api.base}/swagger/${bad}`)).status, 404, bad);
      }
    });

    test('Swagger UI renders every operation in Chromium', { skip: existsSync('/usr/bin/chromium') ? false : 'no chromium', timeout: 90_000 }, async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        const external: string[] = [];
        page.on('request', (req) => {
          if (!req.url().startsWith(api.base)) external.push(req.url());
        });
        await page.goto(`${api.base}/swagger`);
        await page.waitForSelector('.opblock', { timeout: 60_000 });
        const count = await page.locator('.opblock').count();
        assert.equal(count, operations().length);
        assert.deepEqual(external, []);
      } finally {
        await browser.close();
      }
    });
  });
});
