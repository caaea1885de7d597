import type { Logger } from 'pino';
import { maskUrl } from '../config.ts';

// State that several gateway processes must agree on. In-process (memory-state.ts) by default;
// Redis (redis-state.ts) when REDIS_URL is set. One interface so the same test suite runs on both.

/** Where a registered device can be reached; written by the SIP layer in batches. */
export interface PresenceRecord {
  deviceId: string;
  host: string;
  port: number;
  transport: 'udp' | 'tcp';
  lastSeen: number; // Unix ms
  expiresAt: number; // Unix ms
}

export interface PresenceTable {
  /** one round trip for the whole batch; a record lives ttlMs (default: until its expiresAt) unless set again */
  set(records: PresenceRecord[], ttlMs?: number): Promise<void>;
  get(deviceId: string): Promise<PresenceRecord | undefined>;
  /** devices without a live record are absent from the map */
  many(deviceIds: string[]): Promise<Map<string, PresenceRecord>>;
  delete(deviceIds: string[]): Promise<void>;
}

export type Unlock = () => Promise<void>;
export type Unsubscribe = () => Promise<void>;

export interface SharedState {
  readonly kind: 'memory' | 'redis';
  readonly presence: PresenceTable;
  /** atomic increment, returns the new value (starts from 0) */
  incr(key: string, by?: number): Promise<number>;
  /** next value of a counter that cycles through [min, max] (SSRC serials, device id serials) */
  allocate(key: string, min: number, max: number): Promise<number>;
  /** a short exclusive lock, or null when someone else holds it; it expires by itself after ttlMs */
  tryLock(key: string, ttlMs: number): Promise<Unlock | null>;
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;
  /** false when the backing store does not answer (reported by /health) */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export class StateUnavailableError extends Error {
  override name = 'StateUnavailableError';
}

export interface SharedStateOptions {
  /** unset = in-process state */
  redisUrl?: string;
  /** prefix of every Redis key and channel (default "gb:"); tests use a unique one */
  keyPrefix?: string;
  logger?: Logger;
}

/** Memory or Redis state; a Redis that cannot be reached at start rejects with StateUnavailableError. */
export async function createSharedState(o: SharedStateOptions = {}): Promise<SharedState> {
  if (!o.redisUrl) {
    const { MemoryState } = await import('./memory-state.ts');
    return new MemoryState();
  }
  const { RedisState } = await import('./redis-state.ts');
  try {
    return await RedisState.connect(o.redisUrl, { keyPrefix: o.keyPrefix, logger: o.logger });
  } catch (err) {
    throw new StateUnavailableError(`state: cannot reach REDIS_URL ${maskUrl(o.redisUrl)}: ${(err as Error).message}`, { cause: err });
  }
}
