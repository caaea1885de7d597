// The REST app on a real HTTP server (127.0.0.1, ephemeral port) over a real database, with a
// fetch-based client that speaks the envelope. Shared by the http/filters/devices/... tests.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import { EventBus } from '../../src/events/event-bus.ts';
import { createHttpApp, type HttpApp, type HttpDeps } from '../../src/http/app.ts';
import { listWorkerFor } from '../../src/http/list-worker-client.ts';

export const testToken = 'test-token-0123456789';

export interface ApiResponse {
  status: number;
  text: string;
  // The envelope as parsed JSON; tests assert on its shape.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Headers;
}

export interface RequestOptions {
  json?: unknown;
  form?: Record<string, string>;
  /** null = no Authorization header */
  token?: string | null;
  headers?: Record<string, string>;
  rawBody?: string;
}

export interface ApiUnderTest {
  base: string;
  server: Server;
  http: HttpApp;
  events: EventBus;
  dataSource: DataSource;
  request(method: string, path: string, o?: RequestOptions): Promise<ApiResponse>;
  close(): Promise<void>;
}

export async function startApi(dataSource: DataSource, overrides: Partial<HttpDeps> = {}): Promise<ApiUnderTest> {
  const events = overrides.events ?? new EventBus();
  const http = createHttpApp({
    dataSource,
    events,
    ...overrides,
    config: { apiTokens: [testToken], apiAuth: true, serverId: '34020000002000000001', sipPublicIp: '127.0.0.1', sipPort: 5060, ...overrides.config },
  });
  // List pages go through the list worker once it is up: wait, so tests see that path.
  await listWorkerFor(dataSource)?.whenReady();
  const server = createServer(http.app.callback());
  http.attachWebSocket(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function request(method: string, path: string, o: RequestOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token === undefined ? testToken : o.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (o.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.json);
    } else if (o.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(o.form).toString();
    } else if (o.rawBody !== undefined) {
      body = o.rawBody;
    }
    const res = await fetch(base + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, text, body: parsed, headers: res.headers };
  }

  return {
    base,
    server,
    http,
    events,
    dataSource,
    request,
    async close() {
      await http.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function qs(params: Record<string, string | number | object>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) u.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  return `?${u.toString()}`;
}
