// Caches DeviceCredentialStore lookups (and the digest HA1) so a re-registration storm after a
// restart costs one store call per device, not two per REGISTER. Concurrent lookups share one call.
import { ha1 } from './digest.ts';
import type { DeviceCredentials, DeviceCredentialStore } from './types.ts';

const MAX_ENTRIES = 500_000;

export interface CachedCredentials {
  credentials: DeviceCredentials | null;
  /** HA1 for username = deviceId in our realm; undefined for unknown devices. */
  ha1?: string;
  at: number;
}

export class CredentialCache {
  readonly #entries = new Map<string, CachedCredentials>();
  readonly #inflight = new Map<string, Promise<CachedCredentials>>();

  constructor(
    private readonly store: DeviceCredentialStore,
    private readonly realm: string,
    private readonly ttlMs: number,
  ) {}

  /** Synchronous hit, or undefined when the store must be asked. */
  peek(deviceId: string, now: number = Date.now()): CachedCredentials | undefined {
    const e = this.#entries.get(deviceId);
    if (!e) return undefined;
    // Unknown devices are re-checked sooner: the API may create them any moment.
    const ttl = e.credentials ? this.ttlMs : this.ttlMs / 5;
    if (now - e.at > ttl) {
      this.#entries.delete(deviceId);
      return undefined;
    }
    return e;
  }

  get(deviceId: string): Promise<CachedCredentials> {
    const hit = this.peek(deviceId);
    if (hit) return Promise.resolve(hit);
    let p = this.#inflight.get(deviceId);
    if (!p) {
      p = this.store.lookup(deviceId).then(
        (credentials) => {
          this.#inflight.delete(deviceId);
          return this.put(deviceId, credentials);
        },
        (err: unknown) => {
          this.#inflight.delete(deviceId);
          throw err;
        },
      );
      this.#inflight.set(deviceId, p);
    }
    return p;
  }

  put(deviceId: string, credentials: DeviceCredentials | null): CachedCredentials {
    const e: CachedCredentials = {
      credentials,
      ha1: credentials ? ha1(deviceId, this.realm, credentials.password) : undefined,
      at: Date.now(),
    };
    // Scanners register with random ids: bound the cache rather than let it grow with them.
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    this.#entries.set(deviceId, e);
    return e;
  }

  invalidate(deviceId: string): void {
    this.#entries.delete(deviceId);
  }
}
