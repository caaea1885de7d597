// Webhooks: each platform event POSTed as JSON to the URLs configured for it, signed with
// HMAC-SHA256, retried with exponential backoff. Publishing only appends to a bounded in-memory
// queue (oldest dropped when full), so a slow or dead receiver never holds up SIP or media.
import { createHmac } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { eventMatches, type EventBus, type PlatformEvent } from './event-bus.ts';

export interface WebhookTarget {
  /** exact event name, `devices.*`-style prefix or `*` */
  event: string;
  url: string;
}

export interface WebhookOptions {
  bus: EventBus;
  targets: WebhookTarget[];
  /** GB_WEBHOOK_SECRET; without it deliveries are unsigned. */
  secret?: string;
  /** deliveries waiting (including retries); default 1000 */
  maxQueue?: number;
  /** default 5 */
  maxAttempts?: number;
  /** first retry delay, doubled each attempt; default 1000 ms */
  backoffMs?: number;
  /** default 60 000 ms */
  maxBackoffMs?: number;
  /** per request; default 5000 ms */
  timeoutMs?: number;
  /** parallel requests; default 4 */
  concurrency?: number;
  logger?: Logger;
}

export interface WebhookStats {
  queued: number;
  inFlight: number;
  delivered: number;
  failed: number;
  dropped: number;
}

export interface WebhookDispatcher {
  stats(): WebhookStats;
  close(): Promise<void>;
}

interface Delivery {
  url: string;
  body: string;
  event: PlatformEvent;
  attempt: number;
  dueAt: number;
}

export const signatureHeader = 'x-gb-signature';
export const timestampHeader = 'x-gb-timestamp';

/** `sha256=<hex>` over `<timestamp>.<body>`: the timestamp is signed so a capture cannot be replayed later. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * GB_WEBHOOK_URLS: a JSON object `{"devices.online": "http://a/hook", "streams.*": ["http://b", ...]}`
 * or `event=url,event=url` (`*` for every event). Throws TypeError naming the bad entry.
 */
export function parseWebhookUrls(raw: string | undefined): WebhookTarget[] {
  if (!raw || !raw.trim()) return [];
  const targets: WebhookTarget[] = [];
  const add = (event: string, url: unknown) => {
    if (!/^(\*|[a-z]+(\.[a-z*]+)?|[a-z]+\.\*)$/i.test(event)) throw new TypeError(`GB_WEBHOOK_URLS: bad event name "${event}"`);
    if (typeof url !== 'string' || !/^https?:\/\/[^\s]+$/.test(url)) throw new TypeError(`GB_WEBHOOK_URLS: the URL for ${event} must be http(s)`);
    targets.push({ event, url });
  };
  const text = raw.trim();
  if (text.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      throw new TypeError('GB_WEBHOOK_URLS: not valid JSON');
    }
    for (const [event, v] of Object.entries(obj as Record<string, unknown>)) {
      for (const url of Array.isArray(v) ? v : [v]) add(event, url);
    }
    return targets;
  }
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new TypeError(`GB_WEBHOOK_URLS: expected event=url, got an entry without "="`);
    add(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return targets;
}

const retryableStatus = (s: number) => s === 408 || s === 425 || s === 429 || s >= 500;

export function createWebhookDispatcher(o: WebhookOptions): WebhookDispatcher {
  const logger = o.logger ?? pino({ level: 'silent' });
  const maxQueue = o.maxQueue ?? 1000;
  const maxAttempts = o.maxAttempts ?? 5;
  const backoffMs = o.backoffMs ?? 1000;
  const maxBackoffMs = o.maxBackoffMs ?? 60_000;
  const timeoutMs = o.timeoutMs ?? 5000;
  const concurrency = o.concurrency ?? 4;
  const queue: Delivery[] = [];
  const inFlight = new Set<Promise<void>>();
  const counts = { delivered: 0, failed: 0, dropped: 0 };
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let lastDropLog = 0;

  if (o.targets.length && !o.secret) logger.warn('webhooks are configured without GB_WEBHOOK_SECRET: deliveries are unsigned');

  const enqueue = (d: Delivery) => {
    if (queue.length >= maxQueue) {
      queue.shift();
      counts.dropped++;
      if (Date.now() - lastDropLog > 5000) {
        lastDropLog = Date.now();
        logger.warn({ dropped: counts.dropped, maxQueue }, 'webhook queue full: dropping the oldest deliveries');
      }
    }
    queue.push(d);
  };

  const pump = () => {
    if (closed) return;
    while (inFlight.size < concurrency) {
      const now = Date.now();
      const i = queue.findIndex((d) => d.dueAt <= now);
      if (i < 0) break;
      const [d] = queue.splice(i, 1);
      const p = send(d!).finally(() => {
        inFlight.delete(p);
        pump();
      });
      inFlight.add(p);
    }
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (queue.length && inFlight.size < concurrency) {
      const next = Math.min(...queue.map((d) => d.dueAt));
      timer = setTimeout(pump, Math.max(0, next - Date.now()));
      timer.unref();
    }
  };

  const retryOrFail = (d: Delivery, why: string) => {
    d.attempt++;
    if (closed || d.attempt >= maxAttempts) {
      counts.failed++;
      logger.warn({ url: d.url, method: d.event.method, id: d.event.id, attempts: d.attempt, why }, 'webhook delivery failed');
      return;
    }
    const delay = Math.min(maxBackoffMs, backoffMs * 2 ** (d.attempt - 1));
    d.dueAt = Date.now() + delay * (0.8 + Math.random() * 0.4);
    enqueue(d);
  };

  const send = async (d: Delivery): Promise<void> => {
    const timestamp = String(Date.now());
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'gb28181-gateway-webhooks',
      'x-gb-event': d.event.method,
      'x-gb-delivery': d.event.id,
      'x-gb-attempt': String(d.attempt + 1),
      [timestampHeader]: timestamp,
    };
    if (o.secret) headers[signatureHeader] = signWebhook(o.secret, timestamp, d.body);
    try {
      const res = await fetch(d.url, { method: 'POST', headers, body: d.body, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
      await res.body?.cancel();
      if (res.ok) {
        counts.delivered++;
      } else if (retryableStatus(res.status)) {
        retryOrFail(d, `HTTP ${res.status}`);
      } else {
        counts.failed++;
        logger.warn({ url: d.url, method: d.event.method, status: res.status }, 'webhook receiver refused the delivery');
      }
    } catch (err) {
      retryOrFail(d, (err as Error).name === 'TimeoutError' ? 'timeout' : 'network error');
    }
  };

  const unsubscribe = o.bus.subscribe((event) => {
    if (closed) return;
    let body: string | undefined;
    for (const t of o.targets) {
      if (!eventMatches(t.event, event.method)) continue;
      enqueue({ url: t.url, body: (body ??= JSON.stringify(event)), event, attempt: 0, dueAt: 0 });
    }
    if (body !== undefined) queueMicrotask(pump);
  });

  return {
    stats: () => ({ queued: queue.length, inFlight: inFlight.size, ...counts }),
    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      if (timer) clearTimeout(timer);
      // In-flight requests end by their own timeout; what is still queued is lost with the process.
      await Promise.allSettled([...inFlight]);
    },
  };
}
