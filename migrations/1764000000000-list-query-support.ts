import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { trigramIndexed, trigramTable } from './trigram-names.ts';

// What the list API needs to stay fast on large tables (bench/api.ts, 100,000 channels):
// - compound indexes for the console's common "filter by one column, sort by another" pages;
// - on SQLite, a per-table version bumped by triggers on every write, so list totals can be cached
//   and still be exact (see packages/gateway-api/src/http/count-cache.ts);
// - on SQLite, trigram FTS5 indexes of the names, kept in step by triggers, so a `like` that
//   matches few rows does not read every row (packages/gateway-api/src/http/trigram-search.ts).
// MySQL/MariaDB get no triggers: with binary logging on they need SUPER, which a gateway's
// database user rarely has.

const compound: [table: string, columns: string[]][] = [
  ['channels', ['status', 'name']],
  ['channels', ['deviceid', 'addtime']],
  ['devices', ['online', 'addtime']],
];
export const versionedTables = ['devices', 'channels', 'streams'] as const;
const events = ['insert', 'update', 'delete'] as const;
/** [table, column]: each gets the FTS5 table `<table>_<column>_trigram`. */

export const compoundIndexName = (table: string, columns: string[]) => `IDX_${table}_${columns.join('_')}`;

export class ListQuerySupport1764000000000 implements MigrationInterface {
  name = 'ListQuerySupport1764000000000';

  async up(q: QueryRunner): Promise<void> {
    for (const [table, columns] of compound) {
      await q.createIndex(table, new TableIndex({ name: compoundIndexName(table, columns), columnNames: columns }));
    }
    if (q.connection.options.type !== 'better-sqlite3') return;
    await q.query('CREATE TABLE "table_versions" ("name" varchar(32) PRIMARY KEY NOT NULL, "version" integer NOT NULL DEFAULT 0)');
    for (const table of versionedTables) {
      await q.query('INSERT INTO "table_versions" ("name", "version") VALUES (?, 0)', [table]);
      for (const event of events) {
        await q.query(
          `CREATE TRIGGER "TRG_${table}_${event}_version" AFTER ${event.toUpperCase()} ON "${table}" ` +
            `BEGIN UPDATE "table_versions" SET "version" = "version" + 1 WHERE "name" = '${table}'; END`,
        );
      }
    }
    for (const [table, column] of trigramIndexed) {
      const fts = trigramTable(table, column);
      // External content: the index stores trigrams only, the text stays in the table.
      await q.query(`CREATE VIRTUAL TABLE "${fts}" USING fts5("${column}", content='${table}', content_rowid='id', tokenize='trigram')`);
      const remove = `INSERT INTO "${fts}" ("${fts}", rowid, "${column}") VALUES ('delete', old."id", old."${column}");`;
      const add = `INSERT INTO "${fts}" (rowid, "${column}") VALUES (new."id", new."${column}");`;
      await q.query(`CREATE TRIGGER "TRG_${fts}_insert" AFTER INSERT ON "${table}" BEGIN ${add} END`);
      await q.query(`CREATE TRIGGER "TRG_${fts}_delete" AFTER DELETE ON "${table}" BEGIN ${remove} END`);
      await q.query(`CREATE TRIGGER "TRG_${fts}_update" AFTER UPDATE OF "${column}" ON "${table}" BEGIN ${remove} ${add} END`);
      await q.query(`INSERT INTO "${fts}" ("${fts}") VALUES ('rebuild')`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    if (q.connection.options.type === 'better-sqlite3') {
      for (const table of versionedTables) {
        for (const event of events) await q.query(`DROP TRIGGER IF EXISTS "TRG_${table}_${event}_version"`);
      }
      await q.query('DROP TABLE IF EXISTS "table_versions"');
      for (const [table, column] of trigramIndexed) {
        const fts = trigramTable(table, column);
        for (const event of events) await q.query(`DROP TRIGGER IF EXISTS "TRG_${fts}_${event}"`);
        await q.query(`DROP TABLE IF EXISTS "${fts}"`);
      }
    }
    for (const [table, columns] of compound) await q.dropIndex(table, compoundIndexName(table, columns));
  }
}
