import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { Config } from './config.ts';
import { collectHealth, healthHttpStatus, type HealthReport, type MediaHealth, type SipHealth } from './health.ts';
import { assertPortsFree, busyPortsInRange, type PortClaim } from './ports.ts';
import { databaseKind, describeDatabase, openDataSource } from './storage/data-source.ts';
import { StorageGuard } from './storage/storage-guard.ts';
import { createPresenceStore, type SharedPresenceStore } from './state/presence-store.ts';
import { createSharedState, type SharedState } from './state/shared-state.ts';

// The composition root's start/stop order. Each stage gets what the earlier ones built through
// PlatformContext; SIP, media and the REST app plug in through PlatformHooks so this file does
// not change when they land (main.ts passes the real ones).

export interface PlatformContext {
  config: Config;
  logger: Logger;
  dataSource: DataSource;
  storage: StorageGuard;
  state: SharedState;
  presence: SharedPresenceStore;
  health(): Promise<HealthReport>;
}

export interface SipComponent {
  health(): SipHealth;
  close(): Promise<void>;
}

export interface MediaComponent {
  health(): MediaHealth;
  close(): Promise<void>;
}

export interface HttpComponent {
  /** serves every API route, including GET /health (use ctx.health()) */
  handler: RequestListener;
  /** called once the server listens, e.g. to attach the /events WebSocket */
  attach?(server: Server): void;
  close(): Promise<void>;
}

export interface PlatformHooks {
  startSip?(ctx: PlatformContext): Promise<SipComponent>;
  startMedia?(ctx: PlatformContext & { sip?: SipComponent }): Promise<MediaComponent>;
  /** default: a minimal handler that serves GET /health only */
  createHttp?(ctx: PlatformContext & { sip?: SipComponent; media?: MediaComponent }): Promise<HttpComponent>;
}

export interface Platform extends PlatformContext {
  sip?: SipComponent;
  media?: MediaComponent;
  /** the port the REST API listens on (differs from config.apiPort when that was 0) */
  readonly apiPort: number;
  /** stops in reverse start order; idempotent */
  close(): Promise<void>;
}

export interface CreatePlatformOptions {
  /** how long to retry an unreachable database before giving up (default 5000 ms) */
  dbRetryForMs?: number;
  guard?: { intervalMs?: number; downIntervalMs?: number };
}

export async function createPlatform(
  config: Config,
  logger: Logger = pino({ level: 'silent' }),
  hooks: PlatformHooks = {},
  o: CreatePlatformOptions = {},
): Promise<Platform> {
  const startedAt = Date.now();
  const closers: { name: string; close: () => Promise<void> }[] = [];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c.close();
        logger.debug({ component: c.name }, 'closed');
      } catch (err) {
        logger.error({ err, component: c.name }, 'close failed');
      }
    }
  };

  await assertPortsFree(portClaims(config));
  if (hooks.startMedia) {
    const busy = await busyPortsInRange(config.sipHost, config.rtpPorts);
    if (busy > 0) logger.warn({ busy, range: config.rtpPorts.join('-') }, 'GB_RTP_PORTS: some ports are in use and will be skipped');
  }

  try {
    const dataSource = await openDataSource(config, {
      retryForMs: o.dbRetryForMs ?? 5000,
      onRetry: (err, attempt) => logger.warn({ attempt, err: err.message }, `database ${describeDatabase(config)} not reachable yet, retrying`),
    });
    closers.push({ name: 'storage', close: () => dataSource.destroy() });
    const storage = new StorageGuard(dataSource, { logger, ...o.guard }).start();
    closers.push({ name: 'storage-guard', close: async () => storage.stop() });
    logger.info({ db: describeDatabase(config) }, 'storage ready, migrations applied');

    const state = await createSharedState({ redisUrl: config.redisUrl, logger });
    closers.push({ name: 'state', close: () => state.close() });
    logger.info({ state: state.kind }, 'shared state ready');

    let sip: SipComponent | undefined;
    let media: MediaComponent | undefined;
    const health = () =>
      collectHealth({
        db: { kind: databaseKind(config), check: () => storage.check() },
        state,
        sip: () => sip?.health() ?? { udp: false, tcp: false, port: config.sipPort, listening: false, wired: false },
        media: () =>
          media?.health() ?? {
            http: config.mediaHttpPort,
            rtmp: config.mediaRtmpPort,
            rtpPorts: config.rtpPorts.join('-'),
            listening: false,
            wired: false,
          },
        startedAt,
      });
    const ctx: PlatformContext = { config, logger, dataSource, storage, state, presence: createPresenceStore(state), health };

    if (hooks.startSip) {
      sip = await hooks.startSip(ctx);
      closers.push({ name: 'sip', close: () => sip!.close() });
    }
    if (hooks.startMedia) {
      media = await hooks.startMedia({ ...ctx, sip });
      closers.push({ name: 'media', close: () => media!.close() });
    }

    const http = hooks.createHttp ? await hooks.createHttp({ ...ctx, sip, media }) : healthOnlyHttp(health, logger);
    closers.push({ name: 'http-app', close: () => http.close() });
    const server = createServer(http.handler);
    await listen(server, config.apiPort, config.apiHost);
    closers.push({ name: 'http', close: () => closeServer(server) });
    http.attach?.(server);
    const apiPort = (server.address() as AddressInfo).port;
    logger.info({ api: `${config.apiHost}:${apiPort}`, sip: sip ? 'on' : 'not wired', media: media ? 'on' : 'not wired' }, 'platform started');

    let closing: Promise<void> | undefined;
    return {
      ...ctx,
      sip,
      media,
      apiPort,
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Every listener the platform will open, checked even before its component is wired. */
export function portClaims(config: Config): PortClaim[] {
  return [
    { key: 'GB_SIP_PORT', host: config.sipHost, port: config.sipPort, protocols: ['udp', 'tcp'] },
    { key: 'GB_API_PORT', host: config.apiHost, port: config.apiPort, protocols: ['tcp'] },
    { key: 'GB_MEDIA_HTTP_PORT', host: '0.0.0.0', port: config.mediaHttpPort, protocols: ['tcp'] },
    { key: 'GB_MEDIA_RTMP_PORT', host: '0.0.0.0', port: config.mediaRtmpPort, protocols: ['tcp'] },
  ];
}

/** Until the REST app is wired: GET /health and nothing else. */
function healthOnlyHttp(health: () => Promise<HealthReport>, logger: Logger): HttpComponent {
  return {
    handler: (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/health') {
        health().then(
          (report) => {
            res.writeHead(healthHttpStatus(report), { 'content-type': 'application/json' });
            res.end(JSON.stringify(report));
          },
          (err: unknown) => {
            logger.error({ err }, 'health failed');
            res.writeHead(500, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ status: 'degraded' }));
          },
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: '1002', msgid: '', data: `no route ${req.method} ${path}` }));
    },
    close: async () => undefined,
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // keep-alive and streaming clients (FLV, /events) would hold close() forever
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}
