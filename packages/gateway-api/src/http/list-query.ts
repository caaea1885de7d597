// The shared shape of every list route: scope, filters, sort, page, then only public fields out.
// SQL is written here rather than through typeorm's QueryBuilder, which cost more per request than
// the page query itself (~40 % of a 20-row page on SQLite); every name still comes from the
// resource whitelist and every value is a bound `?`.
import type { DataSource } from 'typeorm';
import { sqlReader } from '../storage/sql-reader.ts';
import { hasTrigramIndex, trigramCandidates } from './trigram-search.ts';
import { VersionedCache } from './versioned-cache.ts';
import { compileFilters, compileSort, parseFilters, parseSort, type FilterNode, type SqlDialect } from './filters.ts';
import type { FieldType, ResourceFields } from './resources.ts';
import type { ListQuery } from './schemas.ts';

export interface ListPage {
  total: number;
  list: Record<string, unknown>[];
}

interface SqliteCaches {
  counts: VersionedCache<number>;
  trigrams: VersionedCache<number[] | null>;
}
const sqliteCaches = new WeakMap<DataSource, SqliteCaches>();

/**
 * One page of the resource's table (named as the resource). `scope` adds equality conditions the
 * route imposes (a device's channels); its fields must be whitelisted in `resource` like any filter.
 */
export async function listRows(
  ds: DataSource,
  resource: ResourceFields,
  query: ListQuery,
  scope: Record<string, string> = {},
): Promise<ListPage> {
  // Parse before touching the database: a bad filter costs no query.
  const nodes: FilterNode[] = parseFilters(query.filters, resource);
  const sort = parseSort(query.sort, resource);
  for (const [field, value] of Object.entries(scope)) {
    if (!Object.hasOwn(resource.fields, field)) throw new TypeError(`list scope ${field} is not a field of ${resource.name}`);
    nodes.unshift({ kind: 'condition', field, op: '=', value });
  }
  const sqlite = ds.options.type === 'better-sqlite3';
  const quote = sqlite ? (id: string) => `"${id}"` : (id: string) => `\`${id}\``;
  const table = resource.name;
  const t = quote(table);

  const read = sqlReader(ds);
  // SQLite: cached totals and trigram candidates, both valid while the table's version holds.
  let caches: SqliteCaches | undefined;
  let version = -1;
  let narrowed: number[] | undefined;
  if (sqlite) {
    caches = sqliteCaches.get(ds);
    if (!caches) sqliteCaches.set(ds, (caches = { counts: new VersionedCache(), trigrams: new VersionedCache() }));
    const [v] = await read('SELECT "version" FROM "table_versions" WHERE "name" = ?', [table]);
    version = Number(v?.[0] ?? -1);
    const like = nodes.find((n) => n.kind === 'condition' && n.op === 'like' && hasTrigramIndex(table, n.field));
    if (like?.kind === 'condition') {
      narrowed = await trigramCandidates(read, caches.trigrams, version, table, like.field, String(like.value));
      if (narrowed?.length === 0) return { total: 0, list: [] };
    }
  }
  const where = (params: unknown[], d: SqlDialect): string => {
    const conditions: string[] = [];
    if (narrowed) {
      conditions.push(`${quote('id')} IN (${narrowed.map(() => '?').join(', ')})`);
      params.push(...narrowed);
    }
    const filters = compileFilters(nodes, d, params);
    if (filters) conditions.push(filters);
    return conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '';
  };

  const pageParams: unknown[] = [];
  const pageWhere = where(pageParams, { quote, unindexed: sqlite ? plannerHints(resource, sort[0]?.field) : undefined });
  const orderBy = compileSort(sort, { quote });
  // Written as literals: with LIMIT ? the SQLite planner cannot see a 20-row page and drives the
  // join from the whole table (15 ms instead of 0.2 ms). Both are integers checked by the schema.
  const limit = safeInteger(query.limit);
  const skip = safeInteger(query.skip);
  const fields = Object.entries(resource.fields);
  const columns = fields.map(([f]) => quote(f)).join(', ');
  // Deferred join: the page's ids are found first (often from an index alone), then only those
  // rows are read. A deep skip then steps over index entries, not table rows.
  const pageSql =
    `SELECT ${columns} FROM ${t} INNER JOIN (SELECT ${quote('id')} AS ${quote('page_id')} FROM ${t}${pageWhere}` +
    ` ORDER BY ${orderBy} LIMIT ${limit} OFFSET ${skip}) AS ${quote('page')}` +
    ` ON ${t}.${quote('id')} = ${quote('page')}.${quote('page_id')} ORDER BY ${compileSort(sort, { quote: (id) => `${t}.${quote(id)}` })}`;
  const rows = await read(pageSql, pageParams);

  // A short page tells the total without counting (most scoped lists fit one page).
  let total: number;
  if (rows.length > 0 && rows.length < limit) total = skip + rows.length;
  else if (rows.length === 0 && skip === 0) total = 0;
  else {
    const countParams: unknown[] = [];
    const countSql = `SELECT COUNT(*) AS n FROM ${t}${where(countParams, { quote })}`;
    const key = `${countSql}\u0000${JSON.stringify(countParams)}`;
    const cached = caches?.counts.get(key, version);
    if (cached !== undefined) total = cached;
    else {
      const [row] = await read(countSql, countParams);
      total = Number(row?.[0] ?? 0);
      caches?.counts.set(key, version, total);
    }
  }
  return { total, list: rows.map((r) => fromRaw(fields, r)) };
}

function safeInteger(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`page bound ${n} is not a non-negative integer`);
  return n;
}

/** Low-cardinality filter columns hidden from SQLite's planner, unless an index pairs them with the sort column. */
function plannerHints(resource: ResourceFields, sortField: string | undefined): ReadonlySet<string> {
  const hidden = new Set(resource.lowCardinality);
  for (const [filter, sort] of resource.compoundIndexes ?? []) if (sort === sortField) hidden.delete(filter);
  return hidden;
}

// Drivers differ in raw types: mysql2 returns BIGINT as string and BOOLEAN as 0/1 on both.
function fromRaw(fields: [string, FieldType][], raw: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < fields.length; i++) {
    const [field, type] = fields[i]!;
    const v = raw[i];
    switch (type) {
      case 'int':
      case 'number':
        out[field] = v === null || v === undefined ? 0 : Number(v);
        break;
      case 'bool':
        out[field] = Boolean(Number(v));
        break;
      default:
        out[field] = v === null || v === undefined ? '' : String(v);
    }
  }
  return out;
}
