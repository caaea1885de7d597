// /health (open), /metrics (Prometheus), /openapi.json and /swagger (Swagger UI from the installed
// swagger-ui-dist, no CDN).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { okCode } from './errors.ts';
import type { RouteDeps } from './http-deps.ts';
import type { RouteRegistry } from './route-registry.ts';

const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const swaggerFiles: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

const swaggerHtml = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GB28181 gateway API</title>
<link rel="stylesheet" href="/swagger/swagger-ui.css"><link rel="icon" href="/swagger/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="/swagger/swagger-ui-bundle.js"></script>
<script src="/swagger/swagger-ui-standalone-preset.js"></script>
<script src="/swagger/swagger-init.js"></script>
</body></html>`;
// Separate file, not inline: the page works under a strict Content-Security-Policy.
const swaggerInit = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });`;

async function pingDatabase(deps: RouteDeps): Promise<boolean> {
  if (deps.storageUp && !deps.storageUp()) return false;
  if (!deps.dataSource.isInitialized) return false;
  try {
    await Promise.race([deps.dataSource.query('SELECT 1'), new Promise((_, reject) => setTimeout(reject, 2000).unref())]);
    return true;
  } catch {
    return false;
  }
}

export function registerMetaRoutes(r: RouteRegistry, deps: RouteDeps, o: { metrics: Registry; openapi: () => object }): void {
  r.add({
    method: 'get',
    path: '/health',
    tag: 'meta',
    summary: 'Liveness of database, shared state, SIP and media (no token needed); 503 when the database is down',
    auth: false,
    response: z.object({ status: z.enum(['ok', 'degraded']), db: z.unknown() }).catchall(z.unknown()),
    raw: { contentType: 'application/json' },
    handler: async ({ ctx }) => {
      // The platform's report when wired (db, shared state, SIP, media); else the database alone.
      let report: { status?: unknown } & Record<string, unknown>;
      if (deps.health) {
        try {
          report = (await deps.health()) as typeof report;
        } catch (err) {
          deps.logger.warn({ err }, 'health probe failed');
          report = { status: 'degraded', probe: 'failed' };
        }
      } else {
        const dbUp = await pingDatabase(deps);
        report = { status: dbUp ? 'ok' : 'degraded', db: dbUp ? 'up' : 'down' };
      }
      const ok = report.status === 'ok';
      ctx.status = ok ? 200 : 503;
      ctx.body = { code: ok ? okCode : '1001', msgid: ctx.state.msgid as string, data: report };
    },
  });

  r.add({
    method: 'get',
    path: '/metrics',
    tag: 'meta',
    summary: 'Prometheus metrics',
    response: z.string(),
    raw: { contentType: 'text/plain' },
    handler: async ({ ctx }) => {
      ctx.type = o.metrics.contentType;
      ctx.body = await o.metrics.metrics();
    },
  });

  r.add({
    method: 'get',
    path: '/openapi.json',
    tag: 'meta',
    summary: 'This OpenAPI 3 document (no token needed)',
    auth: false,
    response: z.object({ openapi: z.string() }).catchall(z.unknown()),
    raw: { contentType: 'application/json' },
    handler: async ({ ctx }) => {
      ctx.body = o.openapi();
    },
  });

  r.add({
    method: 'get',
    path: '/swagger',
    tag: 'meta',
    summary: 'Swagger UI (no token needed; paste the token into Authorize)',
    auth: false,
    response: z.string(),
    raw: { contentType: 'text/html' },
    handler: async ({ ctx }) => {
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = swaggerHtml;
    },
  });

  r.add({
    method: 'get',
    path: '/swagger/:file',
    tag: 'meta',
    summary: 'Swagger UI assets, served from the installed swagger-ui-dist',
    auth: false,
    params: z.object({ file: z.string().max(64) }),
    response: z.string(),
    raw: { contentType: 'application/javascript' },
    errors: [404],
    handler: async ({ params, ctx }) => {
      if (params.file === 'swagger-init.js') {
        ctx.type = 'application/javascript; charset=utf-8';
        ctx.body = swaggerInit;
        return;
      }
      // Whitelisted names only: the path parameter never reaches the file system otherwise.
      const type = Object.hasOwn(swaggerFiles, params.file) ? swaggerFiles[params.file] : undefined;
      if (!type) {
        ctx.status = 404;
        ctx.body = { code: '1002', msgid: ctx.state.msgid as string, data: 'no such Swagger UI file' };
        return;
      }
      ctx.type = type;
      ctx.set('Cache-Control', 'public, max-age=86400');
      ctx.body = await readFile(join(swaggerDir, params.file));
    },
  });
}
