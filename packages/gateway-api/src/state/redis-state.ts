import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { checkRange, recordTtl } from './memory-state.ts';
import type { PresenceRecord, PresenceTable, SharedState, Unlock, Unsubscribe } from './shared-state.ts';

// SharedState on Redis (ioredis). Presence is one key per device (JSON, PX expiry) written with
// pipelines and read with MGET: no SCAN on any path. Pub/sub uses a second connection, opened
// on first subscribe, because a subscribed Redis connection cannot run other commands.

const ALLOCATE = `
local v = redis.call('INCR', KEYS[1])
local lo = tonumber(ARGV[1])
local hi = tonumber(ARGV[2])
if v < lo or v > hi then
  redis.call('SET', KEYS[1], lo)
  v = lo
end
return v`;

const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const PING_TIMEOUT_MS = 1000;

class RedisPresence implements PresenceTable {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async set(records: PresenceRecord[], ttlMs?: number): Promise<void> {
    if (records.length === 0) return;
    const now = Date.now();
    const p = this.redis.pipeline();
    for (const r of records) p.set(this.key(r.deviceId), JSON.stringify(r), 'PX', recordTtl(r, now, ttlMs));
    throwFirst(await p.exec());
  }

  async get(deviceId: string): Promise<PresenceRecord | undefined> {
    return decode(await this.redis.get(this.key(deviceId)));
  }

  async many(deviceIds: string[]): Promise<Map<string, PresenceRecord>> {
    const out = new Map<string, PresenceRecord>();
    if (deviceIds.length === 0) return out;
    const values = await this.redis.mget(deviceIds.map((id) => this.key(id)));
    values.forEach((v, i) => {
      const r = decode(v);
      if (r) out.set(deviceIds[i]!, r);
    });
    return out;
  }

  async delete(deviceIds: string[]): Promise<void> {
    if (deviceIds.length === 0) return;
    await this.redis.del(...deviceIds.map((id) => this.key(id)));
  }

  private key(deviceId: string): string {
    return `${this.prefix}presence:${deviceId}`;
  }
}

export class RedisState implements SharedState {
  readonly kind = 'redis' as const;
  readonly presence: RedisPresence;
  private subscriber?: Redis;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  private closed = false;

  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    this.presence = new RedisPresence(redis, prefix);
  }

  /** Connects (rejecting if Redis does not answer within connectTimeoutMs) and returns the state. */
  static async connect(url: string, o: { keyPrefix?: string; logger?: Logger; connectTimeoutMs?: number } = {}): Promise<RedisState> {
    const logger = o.logger ?? pino({ level: 'silent' });
    const redis = new Redis(url, redisOptions(o.connectTimeoutMs));
    // ioredis reconnects on its own; errors while down are reported by ping() and logged here once per state change
    let down = false;
    redis.on('error', (err: Error) => {
      if (!down) logger.warn({ err: err.message }, 'redis connection error');
      down = true;
    });
    redis.on('ready', () => {
      if (down) logger.info('redis connection restored');
      down = false;
    });
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    return new RedisState(redis, o.keyPrefix ?? 'gb:', logger);
  }

  async incr(key: string, by = 1): Promise<number> {
    return this.redis.incrby(this.prefix + 'n:' + key, by);
  }

  async allocate(key: string, min: number, max: number): Promise<number> {
    checkRange(min, max);
    return Number(await this.redis.eval(ALLOCATE, 1, this.prefix + 'n:' + key, min, max));
  }

  async tryLock(key: string, ttlMs: number): Promise<Unlock | null> {
    const k = this.prefix + 'lock:' + key;
    const token = randomUUID();
    const ok = await this.redis.set(k, token, 'PX', Math.max(1, Math.round(ttlMs)), 'NX');
    if (ok !== 'OK') return null;
    return async () => {
      await this.redis.eval(UNLOCK, 1, k, token);
    };
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.redis.publish(this.prefix + channel, message);
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe> {
    const sub = this.subscriberConnection();
    const full = this.prefix + channel;
    let set = this.handlers.get(full);
    if (!set) {
      set = new Set();
      this.handlers.set(full, set);
      await sub.subscribe(full);
    }
    set.add(handler);
    return async () => {
      const s = this.handlers.get(full);
      if (!s?.delete(handler) || s.size > 0) return;
      this.handlers.delete(full);
      if (!this.closed) await sub.unsubscribe(full);
    };
  }

  async ping(): Promise<boolean> {
    if (this.closed || this.redis.status !== 'ready') return false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const pong = await Promise.race([
        this.redis.ping(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('ping timeout')), PING_TIMEOUT_MS);
        }),
      ]);
      return pong === 'PONG';
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handlers.clear();
    await Promise.all([quit(this.redis), this.subscriber ? quit(this.subscriber) : undefined]);
  }

  private subscriberConnection(): Redis {
    if (!this.subscriber) {
      const sub = this.redis.duplicate({ lazyConnect: false });
      sub.on('error', () => undefined); // reported through the main connection
      sub.on('message', (channel: string, message: string) => {
        for (const h of this.handlers.get(channel) ?? []) {
          try {
            h(message);
          } catch (err) {
            this.logger.error({ err, channel }, 'shared-state subscriber threw');
          }
        }
      });
      this.subscriber = sub;
    }
    return this.subscriber;
  }
}

function redisOptions(connectTimeoutMs = 5000) {
  return {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    // fail commands fast while Redis is away (health says so) instead of queueing them for minutes
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  };
}

async function quit(r: Redis): Promise<void> {
  try {
    if (r.status === 'ready') await r.quit();
    else r.disconnect();
  } catch {
    r.disconnect();
  }
}

function decode(v: string | null): PresenceRecord | undefined {
  if (v === null) return undefined;
  try {
    return JSON.parse(v) as PresenceRecord;
  } catch {
    return undefined;
  }
}

function throwFirst(results: [Error | null, unknown][] | null): void {
  for (const [err] of results ?? []) if (err) throw err;
}
