// The Koa application of the REST API: envelope and error mapping, bearer auth, storage guard,
// JSON + form bodies, the routes, and the `/events` WebSocket on the same HTTP server.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import { Router } from '@koa/router';
import Koa from 'koa';
import pino from 'pino';
import { Counter, Histogram, Registry } from 'prom-client';
import { attachEventSocket, type EventSocket } from '../events/ws-events.ts';
import { bearerToken, tokenMatches } from './auth.ts';
import { ApiError, toApiError } from './errors.ts';
import { createGbIdAllocator } from './gb-id-allocator.ts';
import type { HttpDeps, RouteDeps } from './http-deps.ts';
import { startListWorker, stopListWorker } from './list-worker-client.ts';
import { buildOpenApi } from './openapi.ts';
import { RouteRegistry, type DocumentedRoute } from './route-registry.ts';
import { registerChannelRoutes } from './routes-channels.ts';
import { consolePaths, registerConsoleRoutes } from './routes-console.ts';
import { registerDeviceRoutes } from './routes-devices.ts';
import { registerMetaRoutes } from './routes-meta.ts';
import { registerRecordRoutes } from './routes-records.ts';
import { registerStreamRoutes } from './routes-streams.ts';

export type { HttpConfig, HttpDeps } from './http-deps.ts';

export interface HttpApp {
  app: Koa;
  routes: readonly DocumentedRoute[];
  openapi(): object;
  /** Serves `/events` on the HTTP server the app listens on. */
  attachWebSocket(server: Server): EventSocket;
  close(): Promise<void>;
}

// Routes that answer without a token and without the database.
const openPaths = /^\/(health|openapi\.json|swagger(\/[^/]*)?)$/;

export function createHttpApp(deps: HttpDeps): HttpApp {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const routeDeps: RouteDeps = { ...deps, logger, allocator: createGbIdAllocator({ dataSource: deps.dataSource, counter: deps.counter }) };
  const metrics = deps.metrics ?? new Registry();
  if (deps.listWorker !== false) startListWorker(deps.dataSource, logger);
  const requests = new Counter({ name: 'gb_api_requests_total', help: 'REST API requests', labelNames: ['method', 'route', 'status'], registers: [metrics] });
  const latency = new Histogram({
    name: 'gb_api_request_duration_seconds',
    help: 'REST API request duration',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5],
    registers: [metrics],
  });

  const router = new Router();
  const registry = new RouteRegistry(router);
  let doc: object | undefined;
  const openapi = () => (doc ??= buildOpenApi(registry.routes, { title: 'GB28181 gateway API', version: '1' }));
  registerDeviceRoutes(registry, routeDeps);
  registerChannelRoutes(registry, routeDeps);
  registerStreamRoutes(registry, routeDeps);
  registerRecordRoutes(registry, routeDeps);
  registerMetaRoutes(registry, routeDeps, { metrics, openapi });
  registerConsoleRoutes(router);

  const app = new Koa();
  app.proxy = false;
  app.silent = true;

  app.use(async (ctx, next) => {
    const header = ctx.get('X-Request-Id');
    ctx.state.msgid = /^[\w.-]{1,64}$/.test(header) ? header : randomUUID();
    ctx.set('X-Request-Id', ctx.state.msgid as string);
    const started = process.hrtime.bigint();
    try {
      await next();
    } catch (err) {
      const apiErr = toApiError(err);
      if (apiErr.kind === 'storageUnavailable' && deps.onStorageError) deps.onStorageError(err);
      if (apiErr.status >= 500) logger.error({ err, msgid: ctx.state.msgid, path: ctx.path }, 'request failed');
      ctx.status = apiErr.status;
      ctx.body = { code: apiErr.code, msgid: ctx.state.msgid as string, data: apiErr.message };
      if (apiErr.kind === 'unauthorized') ctx.set('WWW-Authenticate', 'Bearer');
    } finally {
      const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      const route = typeof matched === 'string' ? matched : 'unmatched';
      requests.inc({ method: ctx.method, route, status: String(ctx.status) });
      latency.observe({ method: ctx.method, route }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  });

  app.use(async (ctx, next) => {
    if (openPaths.test(ctx.path) || consolePaths.test(ctx.path)) return next();
    if (deps.config.apiAuth && !tokenMatches(deps.config.apiTokens, bearerToken(ctx.get('Authorization')))) {
      throw new ApiError('unauthorized', ctx.get('Authorization') ? 'the bearer token is not valid' : 'missing Authorization: Bearer <token>');
    }
    if (deps.storageUp && !deps.storageUp() && ctx.path !== '/metrics') throw new ApiError('storageUnavailable', 'storage unavailable');
    return next();
  });

  app.use(
    bodyParser({
      enableTypes: ['json', 'form'],
      jsonLimit: '256kb',
      formLimit: '256kb',
      onError: (err) => {
        const status = (err as { status?: number }).status;
        throw new ApiError('badRequest', status === 413 ? 'the request body is too large' : 'the request body is not valid JSON or form data');
      },
    }),
  );
  app.use(router.routes());
  app.use(async (ctx) => {
    // Known path, other method: say so in the envelope rather than a bare 404.
    const allowed = (['GET', 'POST', 'PATCH', 'DELETE'] as const).filter((m) => router.match(ctx.path, m).pathAndMethod.length > 0);
    if (allowed.length) {
      ctx.set('Allow', allowed.join(', '));
      throw new ApiError('methodNotAllowed', `${ctx.method} is not supported here (allowed: ${allowed.join(', ')})`);
    }
    throw new ApiError('notFound', `no route ${ctx.method} ${ctx.path.slice(0, 100).replace(/[^\w/.-]/g, '')}`);
  });

  const sockets = new Set<EventSocket>();
  return {
    app,
    routes: registry.routes,
    openapi,
    attachWebSocket(server: Server): EventSocket {
      const ws = attachEventSocket(server, {
        bus: deps.events,
        authorize: (token) => !deps.config.apiAuth || tokenMatches(deps.config.apiTokens, token),
        logger,
      });
      sockets.add(ws);
      return ws;
    },
    async close(): Promise<void> {
      await Promise.all([...[...sockets].map((s) => s.close()), stopListWorker(deps.dataSource)]);
      sockets.clear();
    },
  };
}
