// `like` (contains) on a name through its SQLite trigram index. A pattern matching few rows would
// otherwise read all 100,000 channels in sort order to find none (60 ms); through the index it costs
// what its matches cost. A pattern matching many rows is left to the plain scan, which finds a
// page of them within the first rows it reads: the index would have to list them all.
import { trigramIndexed, trigramTable } from '../../../../migrations/trigram-names.ts';
import type { SqlRead } from '../storage/sql-reader.ts';
import { VersionedCache } from './versioned-cache.ts';

/** Above this many candidate rows the plain scan wins. */
const MAX_CANDIDATES = 1000;

export function hasTrigramIndex(table: string, field: string): boolean {
  return trigramIndexed.some(([t, c]) => t === table && c === field);
}

/**
 * Ids of the rows whose `field` may contain `value`, or undefined when the index cannot narrow the
 * search (fewer than 3 characters, LIKE wildcards in the value, or too many candidates). The
 * trigram index folds case beyond ASCII, so candidates are a superset: the caller keeps the LIKE.
 */
export async function trigramCandidates(
  read: SqlRead,
  cache: VersionedCache<number[] | null>,
  version: number,
  table: string,
  field: string,
  value: string,
): Promise<number[] | undefined> {
  if ([...value].length < 3 || /[%_]/.test(value)) return undefined;
  const key = `${table}.${field}\u0000${value}`;
  let ids = cache.get(key, version);
  if (ids === undefined) {
    const fts = trigramTable(table, field);
    const rows = await read(`SELECT rowid FROM "${fts}" WHERE "${field}" LIKE ? LIMIT ${MAX_CANDIDATES + 1}`, [`%${value}%`]);
    ids = rows.length > MAX_CANDIDATES ? null : rows.map((r) => Number(r[0]));
    cache.set(key, version, ids);
  }
  return ids ?? undefined;
}
