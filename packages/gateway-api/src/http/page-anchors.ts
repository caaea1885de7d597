// Seek positions for deep pages on SQLite. `skip` N makes the database step over N index entries
// (1-4 ms at 50,000); a page that starts right after a known row's sort key is found from the index
// in ~30 µs. Clients page with `skip` (gosip's contract), so the keys are remembered per query
// shape: a page read at skip S leaves the key of row S-1 and of its own last row, so asking S again
// or walking on to the next page seeks instead of skipping. Keys are valid only while the table's
// version (bumped by triggers on every write) is unchanged, so pages stay exact.
import type { SortKey, SqlDialect } from './filters.ts';
import { VersionedCache } from './versioned-cache.ts';

/** Below this a plain OFFSET costs less than keeping a key. */
export const MIN_ANCHOR_OFFSET = 500;
const MAX_ANCHORS_PER_QUERY = 64;

/** Sort values of one row followed by its id, in ORDER BY order. */
export type RowKey = unknown[];

export interface Anchor {
  /** rows before the anchor's successor: a page at this skip starts right after `key` */
  offset: number;
  key: RowKey;
}

export class PageAnchors {
  readonly #byQuery = new VersionedCache<Map<number, RowKey>>();

  /** The known position at or before `skip` nearest to it. */
  nearest(query: string, version: number, skip: number): Anchor | undefined {
    const anchors = this.#byQuery.get(query, version);
    if (!anchors) return undefined;
    let best: Anchor | undefined;
    for (const [offset, key] of anchors) if (offset <= skip && (!best || offset > best.offset)) best = { offset, key };
    return best;
  }

  remember(query: string, version: number, offset: number, key: RowKey): void {
    // A NULL sort value has no place in the seek comparison (see compileSeek); all listed columns are NOT NULL.
    if (offset < MIN_ANCHOR_OFFSET || key.some((v) => v === null || v === undefined)) return;
    let anchors = this.#byQuery.get(query, version);
    if (!anchors) this.#byQuery.set(query, version, (anchors = new Map()));
    anchors.delete(offset);
    anchors.set(offset, key);
    if (anchors.size > MAX_ANCHORS_PER_QUERY) anchors.delete(anchors.keys().next().value!);
  }
}

/**
 * WHERE text for "after this row in this order", id being the final tie-breaker as in compileSort.
 * The first column's inclusive bound comes first so the planner starts inside its index; the
 * nested OR then decides ties exactly.
 */
export function compileSeek(sort: SortKey[], key: RowKey, d: SqlDialect, params: unknown[]): string {
  const columns = [...sort.map((k) => ({ field: k.field, direction: k.direction })), { field: 'id', direction: sort[0]?.direction ?? 'ASC' }];
  if (key.length !== columns.length) throw new TypeError(`seek key has ${key.length} values for ${columns.length} columns`);
  const after = (i: number): string => {
    const { field, direction } = columns[i]!;
    const op = direction === 'DESC' ? '<' : '>';
    params.push(key[i]);
    if (i === columns.length - 1) return `${d.quote(field)} ${op} ?`;
    params.push(key[i]);
    return `(${d.quote(field)} ${op} ? OR (${d.quote(field)} = ? AND ${after(i + 1)}))`;
  };
  const first = columns[0]!;
  params.push(key[0]);
  const bound = `${d.quote(first.field)} ${first.direction === 'DESC' ? '<=' : '>='} ?`;
  return `${bound} AND ${after(0)}`;
}
