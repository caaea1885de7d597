// The `/events` WebSocket: every platform event as one JSON text message. Token via
// `?token=` (browsers cannot set headers on a WebSocket) or `Authorization: Bearer`; optional
// `?events=devices.*,streams.stop` narrows what a client receives. A client that cannot keep up is
// disconnected rather than buffered without bound.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import pino, { type Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { eventMatches, type EventBus, type PlatformEvent } from './event-bus.ts';

export interface EventSocket {
  readonly clientCount: number;
  close(): Promise<void>;
}

export interface EventSocketOptions {
  bus: EventBus;
  authorize: (token: string | undefined) => boolean;
  path?: string;
  /** Bytes queued for one client before it is dropped. */
  maxBufferedBytes?: number;
  /** Ping period; a client that did not answer the previous ping is dropped. Default 30 s. */
  pingIntervalMs?: number;
  logger?: Logger;
}

function tokenOf(req: IncomingMessage, url: URL): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1] ?? url.searchParams.get('token') ?? undefined;
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

export function attachEventSocket(server: Server, o: EventSocketOptions): EventSocket {
  const path = o.path ?? '/events';
  const maxBuffered = o.maxBufferedBytes ?? 1 << 20;
  const logger = o.logger ?? pino({ level: 'silent' });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const filters = new WeakMap<WebSocket, string[]>();
  const alive = new WeakMap<WebSocket, boolean>();
  // Half-open TCP connections (a laptop closed, a NAT timeout) never emit close on their own.
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, o.pingIntervalMs ?? 30_000);
  heartbeat.unref();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      reject(socket, 400, 'Bad Request');
      return;
    }
    if (url.pathname !== path) return; // another upgrade handler may own it
    if (!o.authorize(tokenOf(req, url))) {
      reject(socket, 401, 'Unauthorized');
      return;
    }
    const patterns = (url.searchParams.get('events') ?? '*').split(',').map((s) => s.trim()).filter(Boolean).slice(0, 20);
    wss.handleUpgrade(req, socket, head, (ws) => {
      filters.set(ws, patterns.length ? patterns : ['*']);
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      ws.on('error', (err) => logger.debug({ err }, 'events client error'));
      // Clients only listen; anything they send is ignored.
      wss.emit('connection', ws, req);
    });
  };
  server.on('upgrade', onUpgrade);

  const unsubscribe = o.bus.subscribe((event: PlatformEvent) => {
    let text: string | undefined;
    for (const ws of wss.clients) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (!(filters.get(ws) ?? ['*']).some((p) => eventMatches(p, event.method))) continue;
      if (ws.bufferedAmount > maxBuffered) {
        logger.warn({ buffered: ws.bufferedAmount }, 'events client too slow: disconnecting');
        ws.terminate();
        continue;
      }
      ws.send((text ??= JSON.stringify(event)));
    }
  });

  let closed: Promise<void> | undefined;
  return {
    get clientCount() {
      return wss.clients.size;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        unsubscribe();
        clearInterval(heartbeat);
        server.off('upgrade', onUpgrade);
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      });
      return closed;
    },
  };
}
