// Who is registered and online, in memory. Keepalives only touch memory; changes reach the
// PresenceStore in batches; a sweeper turns missed keepalives and lapsed registrations into events.
import type { Logger } from 'pino';
import type { Peer } from './transport.ts';
import type { Charset, PresenceEntry, PresenceStore, RegisteredDevice } from './types.ts';

export type OfflineReason = 'keepalive-timeout' | 'registration-expired' | 'unregistered';

export interface PresenceCallbacks {
  online(d: RegisteredDevice): void;
  offline(deviceId: string, reason: OfflineReason): void;
  unregistered(deviceId: string, reason: 'expires0' | 'expired'): void;
}

export interface PresenceOptions {
  store?: PresenceStore;
  keepaliveTimeoutMs: number;
  sweepIntervalMs: number;
  flushMs: number;
  logger: Logger;
  callbacks: PresenceCallbacks;
  now?: () => number;
}

export class Presence {
  readonly #devices = new Map<string, RegisteredDevice>();
  readonly #dirtyOnline = new Set<string>();
  readonly #dirtyOffline = new Set<string>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #flusher: NodeJS.Timeout;
  #flushing: Promise<void> | undefined;
  readonly #now: () => number;

  constructor(private readonly o: PresenceOptions) {
    this.#now = o.now ?? Date.now;
    this.#sweeper = setInterval(() => this.sweep(), o.sweepIntervalMs);
    this.#flusher = setInterval(() => void this.flush(), o.flushMs);
    this.#sweeper.unref();
    this.#flusher.unref();
  }

  get(deviceId: string): RegisteredDevice | undefined {
    return this.#devices.get(deviceId);
  }

  all(): IterableIterator<RegisteredDevice> {
    return this.#devices.values();
  }

  get size(): number {
    return this.#devices.size;
  }

  /** A successful REGISTER with Expires > 0. */
  register(deviceId: string, from: Peer, expiresS: number, charset: Charset, contact?: string, userAgent?: string): RegisteredDevice {
    const now = this.#now();
    const prev = this.#devices.get(deviceId);
    const refresh = prev !== undefined && prev.expiresAt > now;
    const d: RegisteredDevice = prev ?? {
      deviceId,
      host: from.host,
      port: from.port,
      transport: from.transport,
      registeredAt: now,
      expiresAt: 0,
      lastSeen: now,
      online: false,
      refresh: false,
      charset,
    };
    d.host = from.host;
    d.port = from.port;
    d.transport = from.transport;
    d.expiresAt = now + expiresS * 1000;
    d.lastSeen = now;
    d.refresh = refresh;
    d.charset = charset;
    if (!refresh) d.registeredAt = now;
    if (contact !== undefined) d.contact = contact;
    if (userAgent !== undefined) d.userAgent = userAgent;
    this.#devices.set(deviceId, d);
    this.#markOnline(d);
    return d;
  }

  /** `Expires: 0`. */
  unregister(deviceId: string): boolean {
    const d = this.#devices.get(deviceId);
    if (!d) return false;
    this.#drop(d, 'expires0');
    return true;
  }

  /** False when the device is not registered (the keepalive must be refused). */
  keepalive(deviceId: string, from: Peer): RegisteredDevice | undefined {
    const d = this.#devices.get(deviceId);
    const now = this.#now();
    if (!d || d.expiresAt <= now) return undefined;
    d.lastSeen = now;
    // Devices behind NAT may send keepalives from another port than the REGISTER's.
    d.host = from.host;
    d.port = from.port;
    d.transport = from.transport;
    this.#markOnline(d);
    return d;
  }

  /** Device deleted through the API: no events, just gone (and offline in the store). */
  forget(deviceId: string): void {
    if (!this.#devices.delete(deviceId)) return;
    this.#dirtyOnline.delete(deviceId);
    this.#dirtyOffline.add(deviceId);
  }

  sweep(): void {
    const now = this.#now();
    const stale = now - this.o.keepaliveTimeoutMs;
    for (const d of this.#devices.values()) {
      if (d.expiresAt <= now) this.#drop(d, 'expired');
      else if (d.online && d.lastSeen < stale) {
        d.online = false;
        this.#dirtyOnline.delete(d.deviceId);
        this.#dirtyOffline.add(d.deviceId);
        this.o.callbacks.offline(d.deviceId, 'keepalive-timeout');
      }
    }
  }

  #markOnline(d: RegisteredDevice): void {
    this.#dirtyOffline.delete(d.deviceId);
    this.#dirtyOnline.add(d.deviceId);
    if (!d.online) {
      d.online = true;
      this.o.callbacks.online({ ...d });
    }
  }

  #drop(d: RegisteredDevice, why: 'expires0' | 'expired'): void {
    this.#devices.delete(d.deviceId);
    this.#dirtyOnline.delete(d.deviceId);
    this.#dirtyOffline.add(d.deviceId);
    this.o.callbacks.unregistered(d.deviceId, why);
    if (d.online) {
      d.online = false;
      this.o.callbacks.offline(d.deviceId, why === 'expires0' ? 'unregistered' : 'registration-expired');
    }
  }

  /** Writes what changed since the last flush; one call per kind, never one per device. */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing;
    const store = this.o.store;
    if (!store || (this.#dirtyOnline.size === 0 && this.#dirtyOffline.size === 0)) {
      this.#dirtyOnline.clear();
      this.#dirtyOffline.clear();
      return Promise.resolve();
    }
    const entries: PresenceEntry[] = [];
    for (const id of this.#dirtyOnline) {
      const d = this.#devices.get(id);
      if (d && d.online) {
        entries.push({ deviceId: id, host: d.host, port: d.port, transport: d.transport, lastSeen: d.lastSeen, expiresAt: d.expiresAt });
      }
    }
    const offline = [...this.#dirtyOffline];
    this.#dirtyOnline.clear();
    this.#dirtyOffline.clear();
    this.#flushing = (async () => {
      try {
        if (entries.length > 0) await store.setOnline(entries);
        if (offline.length > 0) await store.setOffline(offline);
      } catch (err) {
        this.o.logger.warn({ err, online: entries.length, offline: offline.length }, 'presence store write failed');
      } finally {
        this.#flushing = undefined;
      }
    })();
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    clearInterval(this.#flusher);
    await this.#flushing;
    await this.flush();
  }
}
