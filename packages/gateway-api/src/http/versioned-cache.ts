// Answers that stay exact while their table is unchanged: an entry is reused only while the table's
// version (bumped by SQLite triggers on every insert, update and delete, see
// migrations/1764000000000-list-query-support.ts) is the one it was computed at. Counting 75,000 of
// 100,000 channels costs ~5 ms on SQLite, more than the page itself, and a console paging through a
// filtered list asks the same count on every page.

const MAX_ENTRIES = 1000;

export class VersionedCache<T> {
  readonly #entries = new Map<string, { version: number; value: T }>();

  get(key: string, version: number): T | undefined {
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    this.#entries.delete(key);
    if (hit.version !== version) return undefined;
    // Map keeps insertion order: re-inserting makes it the most recently used.
    this.#entries.set(key, hit);
    return hit.value;
  }

  set(key: string, version: number, value: T): void {
    this.#entries.delete(key);
    this.#entries.set(key, { version, value });
    if (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
  }
}
