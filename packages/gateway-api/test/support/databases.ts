// Fresh databases for tests: a SQLite file in a temp dir always, and a MariaDB database when
// GB_TEST_MYSQL_URL is set (scripts/run-tests.mjs starts a private mariadbd and sets it).
// Under CI=true a missing GB_TEST_MYSQL_URL / GB_TEST_REDIS_URL is a failure, not a skip.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import mysql from 'mysql2/promise';
import type { DataSource } from 'typeorm';
import { openDataSource, type StorageConfig } from '../../src/storage/data-source.ts';

export type TestDatabaseName = 'sqlite' | 'mariadb';

export const underCi = (): boolean => process.env.CI === 'true' || process.env.CI === '1';

/** URL of a test service, or undefined (skip) locally; under CI a missing one is an error. */
export function serviceUrl(variable: 'GB_TEST_MYSQL_URL' | 'GB_TEST_REDIS_URL'): string | undefined {
  const v = process.env[variable];
  if (v) return v;
  if (underCi()) throw new Error(`${variable} is not set under CI: the service suites must not be skipped`);
  return undefined;
}

export interface FreshDatabase {
  name: TestDatabaseName;
  /** dataDir is a fresh temp dir in both cases (tokens, HLS, ... go there) */
  config: StorageConfig;
  /** drops the MariaDB database / removes the temp dir */
  drop(): Promise<void>;
}

/** An empty database (no tables yet) with its StorageConfig, e.g. to hand to createPlatform. */
export async function freshDatabase(
  name: TestDatabaseName,
  o: { mysqlUrl?: string; charset?: string } = {},
): Promise<FreshDatabase> {
  const mysqlUrl = o.mysqlUrl ?? process.env.GB_TEST_MYSQL_URL;
  const dataDir = mkdtempSync(join(tmpdir(), `gb-test-${name}-`));
  const removeDir = async () => rmSync(dataDir, { recursive: true, force: true });
  if (name === 'sqlite') return { name, config: { dataDir }, drop: removeDir };
  if (!mysqlUrl) throw new Error('freshDatabase("mariadb") needs GB_TEST_MYSQL_URL');
  const dbName = `gbt_${process.pid}_${randomBytes(4).toString('hex')}`;
  const root = rootConnectionUrl(mysqlUrl);
  const c = await mysql.createConnection(root);
  try {
    await c.query(`CREATE DATABASE \`${dbName}\` CHARACTER SET ${o.charset ?? 'utf8mb4'}`);
  } finally {
    await c.end();
  }
  const u = new URL(mysqlUrl);
  u.pathname = `/${dbName}`;
  return {
    name,
    config: { dataDir, databaseUrl: u.toString() },
    async drop() {
      const c2 = await mysql.createConnection(root);
      try {
        await c2.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
      } finally {
        await c2.end();
        await removeDir();
      }
    },
  };
}

/**
 * Runs `fn` once per available database. `makeDataSource()` returns an initialized, migrated,
 * empty DataSource on a fresh database; everything it made is destroyed and dropped after the file.
 *
 *   forEachDatabase((name, makeDataSource) => {
 *     describe(`devices on ${name}`, () => { ... before(async () => { ds = await makeDataSource(); }) ... });
 *   });
 */
export function forEachDatabase(fn: (name: TestDatabaseName, makeDataSource: () => Promise<DataSource>) => void): void {
  const made: { ds: DataSource; db: FreshDatabase }[] = [];
  after(async () => {
    for (const { ds, db } of made.splice(0)) {
      if (ds.isInitialized) await ds.destroy().catch(() => undefined);
      await db.drop().catch(() => undefined);
    }
  });
  const maker = (name: TestDatabaseName) => async () => {
    const db = await freshDatabase(name);
    const ds = await openDataSource(db.config, { retryForMs: 0 });
    made.push({ ds, db });
    return ds;
  };
  fn('sqlite', maker('sqlite'));
  let mysqlUrl: string | undefined;
  try {
    mysqlUrl = serviceUrl('GB_TEST_MYSQL_URL');
  } catch (err) {
    test('MariaDB suite runs under CI', () => {
      throw err;
    });
    return;
  }
  if (mysqlUrl) fn('mariadb', maker('mariadb'));
  else test('MariaDB suite (skipped: GB_TEST_MYSQL_URL not set)', { skip: 'GB_TEST_MYSQL_URL not set' }, () => {});
}

function rootConnectionUrl(mysqlUrl: string): string {
  const u = new URL(mysqlUrl);
  u.protocol = 'mysql:';
  u.pathname = '/';
  return u.toString();
}
