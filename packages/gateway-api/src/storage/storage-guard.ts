import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { isConnectionError } from './data-source.ts';

// Tracks whether the database answers. The REST layer asks isUp() to answer 503 / "1001" at once
// instead of waiting on a dead pool, and calls reportFailure() when a query fails. Recovery is
// the pool's job (mysql2 dials new connections when old ones died); the guard only notices it
// with a cheap SELECT 1: every intervalMs while up, every downIntervalMs while down.

export type StorageGuardEvents = { down: [Error]; up: [] };

export interface StorageGuardOptions {
  intervalMs?: number;
  downIntervalMs?: number;
  /** a probe slower than this counts as down (a black-holed network never errors) */
  probeTimeoutMs?: number;
  logger?: Logger;
}

export class StorageGuard extends EventEmitter<StorageGuardEvents> {
  private up = true;
  private timer?: NodeJS.Timeout;
  private probing?: Promise<boolean>;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly downIntervalMs: number;
  private readonly probeTimeoutMs: number;
  private readonly logger: Logger;

  constructor(
    private readonly dataSource: DataSource,
    o: StorageGuardOptions = {},
  ) {
    super();
    this.intervalMs = o.intervalMs ?? 5000;
    this.downIntervalMs = o.downIntervalMs ?? 1000;
    this.probeTimeoutMs = o.probeTimeoutMs ?? 3000;
    this.logger = o.logger ?? pino({ level: 'silent' });
  }

  isUp(): boolean {
    return this.up;
  }

  start(): this {
    this.stopped = false;
    this.schedule();
    return this;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** A request failed: if it looks like a lost database, mark it down now and probe soon. */
  reportFailure(err: unknown): void {
    if (!isConnectionError(err)) return;
    this.setState(false, err as Error);
    this.schedule();
  }

  /** Probes now (coalescing concurrent calls) and returns the new state. */
  check(): Promise<boolean> {
    this.probing ??= this.probe().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private async probe(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      if (!this.dataSource.isInitialized) throw new Error('data source is closed');
      await Promise.race([
        this.dataSource.query('SELECT 1'),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(Object.assign(new Error('SELECT 1 timed out'), { code: 'ETIMEDOUT' })), this.probeTimeoutMs);
        }),
      ]);
      this.setState(true);
      return true;
    } catch (err) {
      this.setState(false, err as Error);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  private setState(up: boolean, err?: Error): void {
    if (up === this.up) return;
    this.up = up;
    if (up) {
      this.logger.info('database reachable again');
      this.emit('up');
    } else {
      const e = err ?? new Error('database unreachable');
      this.logger.error({ err: e.message }, 'database unreachable: API answers 503 until it is back');
      this.emit('down', e);
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        void this.check().then(() => this.schedule());
      },
      this.up ? this.intervalMs : this.downIntervalMs,
    );
    this.timer.unref();
  }
}
