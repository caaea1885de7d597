// The in-process bus the platform publishes its events on; webhooks and the `/events` WebSocket
// subscribe. publish() never throws and never waits: subscribers that do I/O queue their own work.
import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';

export interface PlatformEventData {
  'devices.register': { deviceid: string; host: string; port: number; transport: string; refresh?: boolean };
  'devices.online': { deviceid: string; host?: string; port?: number };
  'devices.offline': { deviceid: string; reason: string };
  'channels.update': { deviceid: string; channels: number; channelids?: string[] };
  'streams.start': { streamid: string; deviceid: string; channelid: string; t: number };
  'streams.stop': { streamid: string; deviceid: string; channelid: string; reason: string };
}
export type RecordsEventName = `records.${string}`;
export type PlatformEventName = keyof PlatformEventData | RecordsEventName;
export type EventDataOf<K extends PlatformEventName> = K extends keyof PlatformEventData ? PlatformEventData[K] : Record<string, unknown>;

/** What webhooks POST and `/events` sends, one per event. */
export interface PlatformEvent<K extends PlatformEventName = PlatformEventName> {
  method: K;
  data: EventDataOf<K>;
  time: number; // Unix ms
  id: string;
}

export type EventListener = (event: PlatformEvent) => void;

// Secrets must never reach a webhook or a browser, whatever a publisher passes in.
const secretKeys = new Set(['password', 'pwd', 'secret', 'token']);
function withoutSecrets(value: unknown, depth = 0): unknown {
  if (depth > 6 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => withoutSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!secretKeys.has(k.toLowerCase())) out[k] = withoutSecrets(v, depth + 1);
  }
  return out;
}

export class EventBus {
  private readonly listeners = new Set<EventListener>();
  private readonly logger: Logger;

  constructor(o: { logger?: Logger } = {}) {
    this.logger = o.logger ?? pino({ level: 'silent' });
  }

  publish<K extends PlatformEventName>(method: K, data: EventDataOf<K>): PlatformEvent<K> {
    const event = { method, data: withoutSecrets(data) as EventDataOf<K>, time: Date.now(), id: randomUUID() };
    for (const listener of this.listeners) {
      try {
        listener(event as PlatformEvent);
      } catch (err) {
        this.logger.error({ err, method }, 'event listener threw');
      }
    }
    return event;
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}

/** `devices.*`, `records.*`, `*` or an exact name. */
export function eventMatches(pattern: string, method: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return method.startsWith(pattern.slice(0, -1));
  return pattern === method;
}
