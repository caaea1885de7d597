// Read-only SQL for the hot list routes, rows as arrays in SELECT order. On SQLite it goes straight
// to better-sqlite3 with our own prepared statements in raw (array) mode: typeorm's query() path
// cost about as much as a 20-row page, and building a 27-key object per row inside the driver
// twice as much again. MySQL/MariaDB go through typeorm's pool.
import type { DataSource } from 'typeorm';

export type SqlRead = (sql: string, params: unknown[]) => Promise<unknown[][]>;

/** The part of better-sqlite3 used here (the package ships no types). */
interface SqliteStatement {
  raw(on: boolean): SqliteStatement;
  all(...params: unknown[]): unknown[][];
}
export interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}

const MAX_STATEMENTS = 200;
const readers = new WeakMap<DataSource, SqlRead>();

export function sqlReader(ds: DataSource): SqlRead {
  let read = readers.get(ds);
  if (read) return read;
  if (ds.options.type === 'better-sqlite3') {
    const byConnection = new WeakMap<SqliteConnection, SqlRead>();
    read = (sql, params) => {
      // Looked up per call: the connection changes when the DataSource is re-initialized.
      const db = (ds.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
      let onConnection = byConnection.get(db);
      if (!onConnection) byConnection.set(db, (onConnection = sqliteRead(db)));
      return onConnection(sql, params);
    };
  } else {
    // mysql2 keeps the SELECT order in each row object's keys.
    read = async (sql, params) => ((await ds.query(sql, params)) as Record<string, unknown>[]).map((row) => Object.values(row));
  }
  readers.set(ds, read);
  return read;
}

/** Reads on one better-sqlite3 connection, its prepared statements kept (most recently used). */
export function sqliteRead(db: SqliteConnection): SqlRead {
  const statements = new Map<string, SqliteStatement>();
  return async (sql, params) => {
    let st = statements.get(sql);
    if (!st) {
      st = db.prepare(sql).raw(true);
      statements.set(sql, st);
      if (statements.size > MAX_STATEMENTS) statements.delete(statements.keys().next().value!);
    }
    return st.all(...params);
  };
}
