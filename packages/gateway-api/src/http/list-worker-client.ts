// The main thread's side of the list worker (list-worker.ts): one worker per SQLite DataSource,
// started by the HTTP app. Until it is ready, and whenever it has failed, list pages are read in
// the main thread as before (listPage() gets undefined and does it itself), so a request is never
// lost to the worker; a failed worker is started again on a later request.
import type { Worker } from 'node:worker_threads';
import { startWorker } from '@gb28181/common';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { ApiError } from './errors.ts';
import { JsonText } from './json-text.ts';
import type { ListReply, ListRequest, ListResourceName, ListWorkerData } from './list-worker-protocol.ts';
import type { ListQuery } from './schemas.ts';

const RESTART_DELAY_MS = 1000;
const workers = new WeakMap<DataSource, ListWorker>();

export function listWorkerFor(ds: DataSource): ListWorker | undefined {
  return workers.get(ds);
}

/** Starts the list worker of a file-backed SQLite DataSource; others read in the main thread. */
export function startListWorker(ds: DataSource, log: Logger): ListWorker | undefined {
  const file = ds.options.type === 'better-sqlite3' ? ds.options.database : undefined;
  if (typeof file !== 'string' || file === ':memory:' || file === '') return undefined;
  let worker = workers.get(ds);
  if (!worker) workers.set(ds, (worker = new ListWorker(file, log)));
  return worker;
}

export async function stopListWorker(ds: DataSource): Promise<void> {
  const worker = workers.get(ds);
  workers.delete(ds);
  await worker?.close();
}

interface Pending {
  resolve: (page: JsonText | undefined) => void;
  reject: (err: Error) => void;
}

export class ListWorker {
  readonly #file: string;
  readonly #log: Logger;
  #worker?: Worker;
  #ready = false;
  #closed = false;
  #restartAt = 0;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #readyWaiters: ((ready: boolean) => void)[] = [];
  /** pages the worker answered (the others were read in the main thread) */
  answered = 0;

  constructor(file: string, log: Logger) {
    this.#file = file;
    this.#log = log.child({ part: 'list-worker' });
    this.#start();
  }

  get ready(): boolean {
    if (!this.#worker && !this.#closed && Date.now() >= this.#restartAt) this.#start();
    return this.#ready;
  }

  /** true once the worker answers, false if it stopped first (tests wait for it; requests never do). */
  whenReady(): Promise<boolean> {
    if (this.#ready) return Promise.resolve(true);
    if (!this.#worker) return Promise.resolve(false);
    this.#worker.ref();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** The page as JSON text; undefined when the worker failed before answering (read it in-thread). */
  list(resource: ListResourceName, query: ListQuery, scope: Record<string, string>): Promise<JsonText | undefined> {
    const worker = this.#worker;
    if (!worker || !this.#ready) return Promise.resolve(undefined);
    const id = this.#nextId++;
    const request: ListRequest = { id, resource, query, scope };
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#stopped();
    await worker?.terminate();
  }

  #start(): void {
    const data: ListWorkerData = { file: this.#file };
    const worker = startWorker(new URL('./list-worker.ts', import.meta.url), data);
    this.#worker = worker;
    // Only an answer someone waits for keeps the process alive (see #idle).
    worker.unref();
    worker.on('message', (m: ListReply) => this.#onReply(m));
    worker.on('error', (err) => this.#log.warn({ err }, 'list worker failed; list pages are read in the main thread until it is back'));
    worker.on('exit', (code) => {
      if (this.#worker !== worker) return;
      if (!this.#closed) this.#log.warn({ code }, 'list worker stopped');
      this.#stopped();
      this.#restartAt = Date.now() + RESTART_DELAY_MS;
    });
  }

  #stopped(): void {
    this.#worker = undefined;
    this.#ready = false;
    // Requests in flight are answered in the main thread instead.
    for (const p of this.#pending.values()) p.resolve(undefined);
    this.#pending.clear();
    this.#settleReady(false);
  }

  #settleReady(ready: boolean): void {
    for (const resolve of this.#readyWaiters) resolve(ready);
    this.#readyWaiters = [];
    this.#idle();
  }

  /** Nothing awaited from the worker: it must not keep a finished process (or test) alive. */
  #idle(): void {
    if (this.#pending.size === 0 && this.#readyWaiters.length === 0) this.#worker?.unref();
  }

  #onReply(m: ListReply): void {
    if ('ready' in m) {
      this.#ready = true;
      this.#settleReady(true);
      return;
    }
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    this.#idle();
    if ('text' in m) {
      this.answered++;
      p.resolve(new JsonText(m.text));
    }
    else p.reject(rebuildError(m.error));
  }
}

/** The worker's error as the route would have got it in-thread: ApiErrors by kind, driver errors with their code. */
function rebuildError(e: { name: string; message: string; kind?: ApiError['kind']; code?: string }): Error {
  if (e.kind) return new ApiError(e.kind, e.message);
  const err = Object.assign(new Error(e.message), e.code ? { code: e.code } : {});
  err.name = e.name;
  return err;
}
