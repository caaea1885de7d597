// Runs at most `concurrency` tasks at a time, one pending task per key: after a platform restart
// every device re-registers within a minute, and their catalog queries must not all go out at once.
export class KeyedTaskQueue {
  readonly #queued = new Map<string, () => Promise<unknown>>();
  readonly #running = new Set<string>();
  #closed = false;

  constructor(private readonly concurrency: number) {}

  /** Queues `task` under `key` unless one is already queued or running for it. */
  push(key: string, task: () => Promise<unknown>): void {
    if (this.#closed || this.#queued.has(key) || this.#running.has(key)) return;
    this.#queued.set(key, task);
    this.#pump();
  }

  get size(): number {
    return this.#queued.size + this.#running.size;
  }

  #pump(): void {
    while (!this.#closed && this.#running.size < this.concurrency && this.#queued.size > 0) {
      const [key, task] = this.#queued.entries().next().value as [string, () => Promise<unknown>];
      this.#queued.delete(key);
      this.#running.add(key);
      task()
        .catch(() => undefined)
        .finally(() => {
          this.#running.delete(key);
          this.#pump();
        });
    }
  }

  close(): void {
    this.#closed = true;
    this.#queued.clear();
  }
}
