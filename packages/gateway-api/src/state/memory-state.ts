import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { PresenceRecord, PresenceTable, SharedState, Unlock, Unsubscribe } from './shared-state.ts';

// Single-process SharedState: the embedded default. Expiry is checked on read and swept now and
// then, so a quiet table does not keep dead records forever.

const SWEEP_MS = 30_000;

class MemoryPresence implements PresenceTable {
  private readonly records = new Map<string, { record: PresenceRecord; until: number }>();

  async set(records: PresenceRecord[], ttlMs?: number): Promise<void> {
    const now = Date.now();
    for (const r of records) this.records.set(r.deviceId, { record: { ...r }, until: now + recordTtl(r, now, ttlMs) });
  }

  async get(deviceId: string): Promise<PresenceRecord | undefined> {
    return this.live(deviceId, Date.now());
  }

  async many(deviceIds: string[]): Promise<Map<string, PresenceRecord>> {
    const now = Date.now();
    const out = new Map<string, PresenceRecord>();
    for (const id of deviceIds) {
      const r = this.live(id, now);
      if (r) out.set(id, r);
    }
    return out;
  }

  async delete(deviceIds: string[]): Promise<void> {
    for (const id of deviceIds) this.records.delete(id);
  }

  sweep(now: number): void {
    for (const [id, e] of this.records) if (e.until <= now) this.records.delete(id);
  }

  private live(deviceId: string, now: number): PresenceRecord | undefined {
    const e = this.records.get(deviceId);
    if (!e) return undefined;
    if (e.until <= now) {
      this.records.delete(deviceId);
      return undefined;
    }
    return { ...e.record };
  }
}

export class MemoryState implements SharedState {
  readonly kind = 'memory' as const;
  readonly presence = new MemoryPresence();
  private readonly counters = new Map<string, number>();
  private readonly locks = new Map<string, { token: string; until: number }>();
  private readonly bus = new EventEmitter();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor() {
    this.bus.setMaxListeners(0);
    this.sweeper = setInterval(() => {
      const now = Date.now();
      this.presence.sweep(now);
      for (const [k, l] of this.locks) if (l.until <= now) this.locks.delete(k);
    }, SWEEP_MS);
    this.sweeper.unref();
  }

  async incr(key: string, by = 1): Promise<number> {
    const v = (this.counters.get(key) ?? 0) + by;
    this.counters.set(key, v);
    return v;
  }

  async allocate(key: string, min: number, max: number): Promise<number> {
    checkRange(min, max);
    let v = (this.counters.get(key) ?? min - 1) + 1;
    if (v < min || v > max) v = min;
    this.counters.set(key, v);
    return v;
  }

  async tryLock(key: string, ttlMs: number): Promise<Unlock | null> {
    const now = Date.now();
    const held = this.locks.get(key);
    if (held && held.until > now) return null;
    const token = randomUUID();
    this.locks.set(key, { token, until: now + ttlMs });
    return async () => {
      if (this.locks.get(key)?.token === token) this.locks.delete(key);
    };
  }

  async publish(channel: string, message: string): Promise<void> {
    // Delivered on a later tick, as Redis would: a publisher never runs subscribers inline.
    setImmediate(() => this.bus.emit(channel, message));
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    const safe = (m: string) => {
      try {
        handler(m);
      } catch {
        // a subscriber's bug must not break the publisher or other subscribers
      }
    };
    this.bus.on(channel, safe);
    return async () => {
      this.bus.off(channel, safe);
    };
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.bus.removeAllListeners();
  }
}

export function recordTtl(r: PresenceRecord, now: number, ttlMs: number | undefined): number {
  return Math.max(1, Math.round(ttlMs ?? r.expiresAt - now));
}

export function checkRange(min: number, max: number): void {
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max) {
    throw new TypeError(`allocate(): bad range ${min}-${max}`);
  }
}
