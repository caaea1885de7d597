import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { migrations } from '../../../../migrations/index.ts';
import { maskUrl } from '../config.ts';
import { entities } from './entities.ts';

export type DatabaseKind = 'sqlite' | 'mariadb' | 'mysql';

export interface StorageConfig {
  /** mysql:// or mariadb://; unset = SQLite file `<dataDir>/gb28181.db` */
  databaseUrl?: string;
  dataDir: string;
}

export class StorageUnavailableError extends Error {
  override name = 'StorageUnavailableError';
}

export function databaseKind(config: StorageConfig): DatabaseKind {
  if (!config.databaseUrl) return 'sqlite';
  return new URL(config.databaseUrl).protocol === 'mariadb:' ? 'mariadb' : 'mysql';
}

/** Where the data lives, password masked: for logs, errors and /health. */
export function describeDatabase(config: StorageConfig): string {
  return config.databaseUrl ? maskUrl(config.databaseUrl) : `sqlite:${join(config.dataDir, 'gb28181.db')}`;
}

/** A DataSource (not yet initialized) with our entities; openDataSource() connects and migrates it. */
export function createDataSource(config: StorageConfig): DataSource {
  // migrations run in openDataSource(), under a lock, not on initialize()
  const common = { entities, migrations, migrationsRun: false, synchronize: false, logging: false } as const;
  const kind = databaseKind(config);
  if (kind === 'sqlite') {
    mkdirSync(config.dataDir, { recursive: true });
    const options: DataSourceOptions = {
      ...common,
      type: 'better-sqlite3',
      database: join(config.dataDir, 'gb28181.db'),
      enableWAL: true,
      timeout: 5000, // busy timeout: a second process (migrate CLI) may hold the write lock briefly
    };
    return new DataSource(options);
  }
  const u = new URL(config.databaseUrl!);
  const options: DataSourceOptions = {
    ...common,
    type: kind,
    host: u.hostname,
    port: u.port ? Number(u.port) : 3306,
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'gb28181',
    charset: 'utf8mb4_unicode_ci',
    connectTimeout: 5000,
    // Pool keeps a few warm connections; dead ones are dropped by mysql2 and new ones dialled,
    // which is how the process recovers when the database comes back (see storage-guard.ts).
    extra: { connectionLimit: 10, enableKeepAlive: true, keepAliveInitialDelay: 10000 },
  };
  return new DataSource(options);
}

export interface OpenDataSourceOptions {
  /** keep trying this long before giving up (default 5000 ms) */
  retryForMs?: number;
  retryIntervalMs?: number;
  onRetry?: (err: Error, attempt: number) => void;
}

/** Creates, connects and migrates; an unreachable database ends in one clear StorageUnavailableError. */
export async function openDataSource(config: StorageConfig, o: OpenDataSourceOptions = {}): Promise<DataSource> {
  const deadline = Date.now() + (o.retryForMs ?? 5000);
  const interval = o.retryIntervalMs ?? 1000;
  for (let attempt = 1; ; attempt++) {
    const ds = createDataSource(config);
    try {
      await ds.initialize();
      await migrate(ds);
      if (ds.options.type === 'better-sqlite3') keepSqliteStatistics(ds);
      return ds;
    } catch (err) {
      if (ds.isInitialized) await ds.destroy().catch(() => undefined);
      const e = err as Error & { code?: string };
      const retryable = isConnectionError(e);
      if (!retryable || Date.now() + interval > deadline) {
        const where = config.databaseUrl ? `DATABASE_URL ${maskUrl(config.databaseUrl)}` : describeDatabase(config);
        throw new StorageUnavailableError(`storage: cannot open ${where}: ${e.code ? e.code + ' ' : ''}${oneLine(e.message)}`, {
          cause: err,
        });
      }
      o.onRetry?.(e, attempt);
      await new Promise((r) => setTimeout(r, interval));
    }
  }
}

/**
 * Applies pending migrations. On MySQL/MariaDB a named lock serialises gateway nodes starting at
 * the same time (two would otherwise both create the tables); SQLite's own write lock does that.
 */
export async function migrate(ds: DataSource): Promise<void> {
  if (ds.options.type === 'better-sqlite3') {
    await ds.runMigrations({ transaction: 'all' });
    return;
  }
  const q = ds.createQueryRunner();
  try {
    const [row] = (await q.query(`SELECT GET_LOCK('gb28181_migrations', 60) AS got`)) as { got: number | string | null }[];
    if (Number(row?.got) !== 1) throw new Error('storage: another node held the migration lock for 60 s');
    try {
      // MySQL DDL commits implicitly: one transaction per migration is all it can honour
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await q.query(`SELECT RELEASE_LOCK('gb28181_migrations')`).catch(() => undefined);
    }
  } finally {
    await q.release();
  }
}

const OPTIMIZE_EVERY_MS = 60 * 60_000;

/**
 * The planner's statistics (sqlite_stat1), as SQLite recommends for long-lived connections:
 * `optimize=0x10002` at open, then `optimize` hourly, which re-analyses only tables that changed a
 * lot. Without them an ON/OFF filter can make it sort most of a 100,000-row table for a 20-row page.
 */
function keepSqliteStatistics(ds: DataSource): void {
  const optimize = (pragma: string) => {
    if (!ds.isInitialized) return clearInterval(timer);
    ds.query(pragma).catch(() => undefined);
  };
  const timer = setInterval(() => optimize('PRAGMA optimize'), OPTIMIZE_EVERY_MS).unref();
  optimize('PRAGMA optimize=0x10002');
}

const connectionCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE',
  'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN', 'SQLITE_BUSY',
]);

/** Errors that mean "the database is not there right now", as opposed to a bad query. */
export function isConnectionError(err: unknown): boolean {
  let e = err as (Error & { code?: string; driverError?: unknown; cause?: unknown }) | undefined;
  for (let depth = 0; e && depth < 4; depth++) {
    if (e.code && connectionCodes.has(e.code)) return true;
    if (/connect ETIMEDOUT|Connection lost|closed state|Pool is closed|connection is in closed/i.test(e.message ?? '')) return true;
    e = (e.driverError ?? e.cause) as typeof e;
  }
  return false;
}

function oneLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 300);
}
