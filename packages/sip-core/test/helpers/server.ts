// Starts a real SipServer on 127.0.0.1, ephemeral port, with an in-memory credential store.
import { createSipServer, type SipServer, type TypedEmitter } from '../../src/index.ts';
import type { DeviceCredentials, DeviceCredentialStore, SipServerEventMap, SipServerOptions } from '../../src/types.ts';

export const SERVER_ID = '34020000002000000001';
export const DEVICE_ID = '34020000001320000001';
export const PASSWORD = '12345678';

export class MemoryCredentials implements DeviceCredentialStore {
  lookups = 0;
  create?: (deviceId: string) => Promise<void>;
  created: string[] = [];
  readonly devices = new Map<string, DeviceCredentials>();
  constructor(entries: Record<string, string> = { [DEVICE_ID]: PASSWORD }) {
    for (const [deviceId, password] of Object.entries(entries)) this.devices.set(deviceId, { deviceId, password });
  }
  async lookup(deviceId: string): Promise<DeviceCredentials | null> {
    this.lookups++;
    return this.devices.get(deviceId) ?? null;
  }
}

export async function startServer(over: Partial<SipServerOptions> = {}): Promise<SipServer> {
  return createSipServer({
    serverId: SERVER_ID,
    host: '127.0.0.1',
    port: 0,
    publicIp: '127.0.0.1',
    registerPolicy: 'known',
    keepaliveTimeoutS: 180,
    nonceSecret: 'test-secret',
    credentials: new MemoryCredentials(),
    catalogOnRegister: false,
    ...over,
  });
}

/** First argument of the next `event` from a typed emitter, or a rejection after `timeoutMs`. */
export function once<K extends keyof SipServerEventMap & string>(emitter: SipServer, event: K, timeoutMs = 5000): Promise<SipServerEventMap[K][0]> {
  return onceOf<SipServerEventMap, K>(emitter, event, timeoutMs);
}

export function onceOf<E extends Record<string, unknown[]>, K extends keyof E & string>(
  emitter: TypedEmitter<E>,
  event: K,
  timeoutMs = 5000,
): Promise<E[K][0]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} event within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (...args: E[K]) => {
      clearTimeout(t);
      resolve(args[0]);
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
