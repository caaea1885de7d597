// The shared shape of every list route: scope, filters, sort, page, then only public fields out.
// SQL is written here rather than through typeorm's QueryBuilder, which cost more per request than
// the page query itself (~40 % of a 20-row page on SQLite); every name still comes from the
// resource whitelist and every value is a bound `?`.
import type { DataSource } from 'typeorm';
import { sqlReader, type SqlRead } from '../storage/sql-reader.ts';
import { compileFilters, compileSort, parseFilters, parseSort, type FilterNode, type SortKey, type SqlDialect } from './filters.ts';
import { JsonText } from './json-text.ts';
import { listWorkerFor } from './list-worker-client.ts';
import type { ListResourceName } from './list-worker-protocol.ts';
import { compileSeek, MIN_ANCHOR_OFFSET, PageAnchors } from './page-anchors.ts';
import { hasTrigramIndex, trigramCandidates } from './trigram-search.ts';
import { VersionedCache } from './versioned-cache.ts';
import type { FieldType, ResourceFields } from './resources.ts';
import type { ListQuery } from './schemas.ts';

export interface ListPage {
  total: number;
  list: Record<string, unknown>[];
}

interface SqliteCaches {
  counts: VersionedCache<number>;
  trigrams: VersionedCache<number[] | null>;
  anchors: PageAnchors;
}

/** Where list SQL runs: SQLite with its caches (valid per table version), or MySQL/MariaDB. */
export interface ListSource {
  read: SqlRead;
  sqlite?: SqliteCaches;
}

const sources = new WeakMap<DataSource, ListSource>();

function sourceOf(ds: DataSource): ListSource {
  let source = sources.get(ds);
  if (!source) {
    const read = sqlReader(ds);
    sources.set(ds, (source = ds.options.type === 'better-sqlite3' ? sqliteListSource(read) : { read }));
  }
  return source;
}

export function sqliteListSource(read: SqlRead): ListSource {
  return { read, sqlite: { counts: new VersionedCache(), trigrams: new VersionedCache(), anchors: new PageAnchors() } };
}

/** A list request parsed and checked, with what its SQL needs. */
interface PlannedList {
  resource: ResourceFields;
  read: SqlRead;
  quote: (id: string) => string;
  table: string;
  sort: SortKey[];
  limit: number;
  skip: number;
  /** ` WHERE …` (or '') of the filters, scope and trigram candidates, its values pushed on `params` */
  where: (params: unknown[], d: SqlDialect) => string;
  /** SQLite only: per-table caches and the table's version they are valid for */
  sqlite?: { caches: SqliteCaches; version: number };
}

/**
 * One page of the resource's table (named as the resource). `scope` adds equality conditions the
 * route imposes (a device's channels); its fields must be whitelisted in `resource` like any filter.
 * On SQLite the page comes back as JSON text `{total, list}` written by SQLite itself (turning the
 * 2,700 values of a 100-row page into JS values, objects and then JSON cost ~2x more), and from the
 * list worker thread when it runs (list-worker-client.ts).
 */
export async function listPage(
  ds: DataSource,
  resource: ResourceFields,
  query: ListQuery,
  scope: Record<string, string> = {},
): Promise<ListPage | JsonText> {
  const worker = listWorkerFor(ds);
  // A closed DataSource is storage down for every route, whatever the worker's own connection says.
  if (worker?.ready && ds.isInitialized) {
    const page = await worker.list(resource.name as ListResourceName, query, scope);
    if (page) return page;
  }
  return listFrom(sourceOf(ds), resource, query, scope);
}

/** listPage() as objects, for routes that add to each row. */
export async function listRows(ds: DataSource, resource: ResourceFields, query: ListQuery, scope: Record<string, string> = {}): Promise<ListPage> {
  const page = await listPage(ds, resource, query, scope);
  return page instanceof JsonText ? (JSON.parse(page.text) as ListPage) : page;
}

export async function listFrom(source: ListSource, resource: ResourceFields, query: ListQuery, scope: Record<string, string> = {}): Promise<ListPage | JsonText> {
  const plan = await planList(source, resource, query, scope);
  if (!plan) return { total: 0, list: [] };
  return plan.sqlite ? sqlitePage(plan, plan.sqlite) : deferredJoinPage(plan);
}

/** undefined when the answer is known to be empty without a page query. */
async function planList(source: ListSource, resource: ResourceFields, query: ListQuery, scope: Record<string, string>): Promise<PlannedList | undefined> {
  // Parse before touching the database: a bad filter costs no query.
  const nodes: FilterNode[] = parseFilters(query.filters, resource);
  const sort = parseSort(query.sort, resource);
  for (const [field, value] of Object.entries(scope)) {
    if (!Object.hasOwn(resource.fields, field)) throw new TypeError(`list scope ${field} is not a field of ${resource.name}`);
    nodes.unshift({ kind: 'condition', field, op: '=', value });
  }
  const caches = source.sqlite;
  const quote = caches ? (id: string) => `"${id}"` : (id: string) => `\`${id}\``;
  const table = resource.name;
  const read = source.read;
  // SQLite: cached totals, trigram candidates and seek keys, all valid while the table's version holds.
  let sqlite: PlannedList['sqlite'];
  let narrowed: number[] | undefined;
  if (caches) {
    const [v] = await read('SELECT "version" FROM "table_versions" WHERE "name" = ?', [table]);
    sqlite = { caches, version: Number(v?.[0] ?? -1) };
    const like = nodes.find((n) => n.kind === 'condition' && n.op === 'like' && hasTrigramIndex(table, n.field));
    if (like?.kind === 'condition') {
      narrowed = await trigramCandidates(read, caches.trigrams, sqlite.version, table, like.field, String(like.value));
      if (narrowed?.length === 0) return undefined;
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
  // Written as literals: with LIMIT ? the SQLite planner cannot see a 20-row page and drives the
  // join from the whole table (15 ms instead of 0.2 ms). Both are integers checked by the schema.
  return { resource, read, quote, table, sort, limit: safeInteger(query.limit), skip: safeInteger(query.skip), where, sqlite };
}

/**
 * SQLite: the page's sort keys and ids first (often from an index alone, seeking from a remembered
 * key rather than skipping), then SQLite writes those rows as one JSON array.
 */
async function sqlitePage(plan: PlannedList, { caches, version }: NonNullable<PlannedList['sqlite']>): Promise<JsonText> {
  const { quote, read, sort, limit, skip } = plan;
  const t = quote(plan.table);
  const params: unknown[] = [];
  const filtered = plan.where(params, { quote, unindexed: plannerHints(plan.resource, sort[0]?.field) });
  const orderBy = compileSort(sort, { quote });
  const shape = `${filtered}\u0000${orderBy}\u0000${JSON.stringify(params)}`;
  const anchor = skip >= MIN_ANCHOR_OFFSET ? caches.anchors.nearest(shape, version, skip) : undefined;
  let where = filtered;
  let offset = skip;
  if (anchor) {
    const seek = compileSeek(sort, anchor.key, { quote }, params);
    where = filtered ? `${filtered} AND ${seek}` : ` WHERE ${seek}`;
    offset = skip - anchor.offset;
  }
  // The row before the page is read too when there is one and the skip is deep enough to keep its
  // key: it is the anchor for this skip.
  const lead = offset > 0 && skip >= MIN_ANCHOR_OFFSET ? 1 : 0;
  const keyColumns = [...sort.map((k) => quote(k.field)), quote('id')].join(', ');
  const keys = await read(`SELECT ${keyColumns} FROM ${t}${where} ORDER BY ${orderBy} LIMIT ${limit + lead} OFFSET ${offset - lead}`, params);
  if (lead && keys.length > 0) caches.anchors.remember(shape, version, skip, keys.shift()!);
  if (keys.length === limit && limit > 0) caches.anchors.remember(shape, version, skip + limit, keys[limit - 1]!);

  let listJson = '[]';
  if (keys.length > 0) {
    // The ids in page order drive the join, so the rows need no second sort on the sort columns.
    const ids = JSON.stringify(keys.map((k) => k[k.length - 1]));
    const [row] = await read(
      `SELECT '[' || group_concat(json_object(${jsonPairs(plan.resource, t)}), ',' ORDER BY "page"."key") || ']'` +
        ` FROM json_each(?) AS "page" CROSS JOIN ${t} ON ${t}.${quote('id')} = "page"."value"`,
      [ids],
    );
    listJson = String(row?.[0] ?? '[]');
  }
  const total = await totalOf(plan, keys.length, caches.counts, version);
  return new JsonText(`{"total":${total},"list":${listJson}}`);
}

/** MySQL/MariaDB: the page's ids first (often from an index alone), then only those rows. */
async function deferredJoinPage(plan: PlannedList): Promise<ListPage> {
  const { quote, read, sort, limit, skip } = plan;
  const t = quote(plan.table);
  const params: unknown[] = [];
  const where = plan.where(params, { quote });
  const fields = Object.entries(plan.resource.fields);
  const columns = fields.map(([f]) => quote(f)).join(', ');
  const rows = await read(
    `SELECT ${columns} FROM ${t} INNER JOIN (SELECT ${quote('id')} AS ${quote('page_id')} FROM ${t}${where}` +
      ` ORDER BY ${compileSort(sort, { quote })} LIMIT ${limit} OFFSET ${skip}) AS ${quote('page')}` +
      ` ON ${t}.${quote('id')} = ${quote('page')}.${quote('page_id')} ORDER BY ${compileSort(sort, { quote: (id) => `${t}.${quote(id)}` })}`,
    params,
  );
  return { total: await totalOf(plan, rows.length), list: rows.map((r) => fromRaw(fields, r)) };
}

/** A short page tells the total without counting (most scoped lists fit one page). */
async function totalOf(plan: PlannedList, pageLength: number, counts?: VersionedCache<number>, version = -1): Promise<number> {
  if (pageLength > 0 && pageLength < plan.limit) return plan.skip + pageLength;
  if (pageLength === 0 && plan.skip === 0) return 0;
  const params: unknown[] = [];
  const sql = `SELECT COUNT(*) AS n FROM ${plan.quote(plan.table)}${plan.where(params, { quote: plan.quote })}`;
  const key = `${sql}\u0000${JSON.stringify(params)}`;
  const cached = counts?.get(key, version);
  if (cached !== undefined) return cached;
  const [row] = await plan.read(sql, params);
  const total = Number(row?.[0] ?? 0);
  counts?.set(key, version, total);
  return total;
}

const jsonPairsByResource = new WeakMap<ResourceFields, string>();

/**
 * json_object() arguments giving each field the JSON type fromRaw() gives it on MySQL, written once
 * per resource. Listed columns are NOT NULL (list-query.test.ts checks), so values need no NULL default.
 */
function jsonPairs(resource: ResourceFields, table: string): string {
  let pairs = jsonPairsByResource.get(resource);
  if (pairs === undefined) jsonPairsByResource.set(resource, (pairs = writeJsonPairs(resource, table)));
  return pairs;
}

function writeJsonPairs(resource: ResourceFields, table: string): string {
  return Object.entries(resource.fields)
    .map(([field, type]) => {
      const c = `${table}."${field}"`;
      return `'${field}', ${type === 'bool' ? `json(iif(${c}, 'true', 'false'))` : c}`;
    })
    .join(', ');
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
