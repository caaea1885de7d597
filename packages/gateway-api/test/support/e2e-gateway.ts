// Runs the real gateway (`npm start`'s node command) as a child process
// on free loopback ports with a temp data dir, and talks to it over its REST API. Used by the
// end-to-end tests and the play benchmarks; kill('SIGKILL') is the crash of the restart test.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EPHEMERAL_LOW, freePort } from '../../../../scripts/test-services.mjs';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** The arguments `npm start` gives node (package.json), so tests run the gateway as users do. */
export function npmStartArgs(): string[] {
  const start = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const [node, ...args] = start.trim().split(/\s+/);
  if (node !== 'node') throw new Error(`npm start does not run node directly: ${start}`);
  return args;
}

export interface GatewayProcess {
  readonly api: string;
  readonly token: string;
  readonly sipPort: number;
  readonly mediaHttpPort: number;
  readonly dataDir: string;
  readonly env: Record<string, string>;
  readonly child: ChildProcess;
  output(): string;
  request<T = unknown>(method: string, path: string, body?: Record<string, unknown>): Promise<{ status: number; code: string; data: T }>;
  /** SIGTERM and wait; idempotent. */
  stop(): Promise<void>;
  /** SIGKILL: the process dies without closing anything. */
  crash(): Promise<void>;
}

export interface GatewayOptions {
  /** Extra or overriding GB_* variables. */
  env?: Record<string, string>;
  /** Reuse a data dir (restart after a crash). */
  dataDir?: string;
  /** Reuse the ports of a previous run (the restarted process must be the same node). */
  ports?: { sip: number; api: number; http: number; rtmp: number; rtp: [number, number] };
  startTimeoutMs?: number;
  /** Size of the receive port range (default 200). */
  rtpPortCount?: number;
}

export async function startGateway(o: GatewayOptions = {}): Promise<GatewayProcess> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'gb-e2e-'));
  for (let attempt = 1; ; attempt++) {
    try {
      return await startGatewayOnce({ ...o, dataDir });
    } catch (err) {
      // another suite running at the same time may have bound the same random port first: fresh
      // ports, unless pinned
      if (o.ports || attempt === 3 || !/ is in use/.test(String(err))) {
        if (!o.dataDir) rmSync(dataDir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

async function startGatewayOnce(o: GatewayOptions & { dataDir: string }): Promise<GatewayProcess> {
  const dataDir = o.dataDir;
  const ports = o.ports ?? {
    sip: await freePort(),
    api: await freePort(),
    http: await freePort(),
    rtmp: await freePort(),
    rtp: rtpRange(o.rtpPortCount ?? 200),
  };
  const token = 'e2e-token-0123456789';
  const env: Record<string, string> = {
    GB_DATA_DIR: dataDir,
    GB_SIP_HOST: '127.0.0.1',
    GB_SIP_PORT: String(ports.sip),
    GB_SIP_PUBLIC_IP: '127.0.0.1',
    GB_API_HOST: '127.0.0.1',
    GB_API_PORT: String(ports.api),
    GB_API_TOKEN: token,
    GB_MEDIA_IP: '127.0.0.1',
    GB_RTP_PORTS: `${ports.rtp[0]}-${ports.rtp[1]}`,
    GB_MEDIA_HTTP_PORT: String(ports.http),
    GB_MEDIA_RTMP_PORT: String(ports.rtmp),
    GB_MEDIA_PUBLIC_URL: `http://127.0.0.1:${ports.http}`,
    GB_LOG_LEVEL: 'warn',
    ...o.env,
  };
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GB_') && k !== 'DATABASE_URL' && k !== 'REDIS_URL'));
  const child = spawn(process.execPath, npmStartArgs(), {
    cwd: repoRoot,
    env: { ...cleanEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const api = `http://127.0.0.1:${ports.api}`;

  const request = async <T>(method: string, path: string, body?: Record<string, unknown>) => {
    const res = await fetch(api + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.json().catch(() => ({}))) as { code?: string; data?: T };
    return { status: res.status, code: json.code ?? '', data: json.data as T };
  };

  const deadline = Date.now() + (o.startTimeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode} at start:\n${out}`);
    const ok = await fetch(`${api}/health`).then(
      (r) => r.status < 500 || r.status === 503,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not answer /health within ${o.startTimeoutMs ?? 30_000} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  let stopped: Promise<void> | undefined;
  const g: GatewayProcess & { ports: typeof ports } = {
    api,
    token,
    sipPort: ports.sip,
    mediaHttpPort: ports.http,
    dataDir,
    env,
    child,
    ports,
    output: () => out,
    request,
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 12_000);
        await exited;
        clearTimeout(t);
      })()),
    crash: () =>
      (stopped ??= (async () => {
        child.kill('SIGKILL');
        await exited;
      })()),
  };
  return g;
}

export function portsOf(g: GatewayProcess): NonNullable<GatewayOptions['ports']> {
  return (g as GatewayProcess & { ports: NonNullable<GatewayOptions['ports']> }).ports;
}

/**
 * Why the gateway cannot run an end-to-end play yet ('' when it can): main.ts gains its SIP, media
 * and REST wiring while the packages land; until then the e2e tests skip with this reason.
 */
export async function missingWiring(g: GatewayProcess): Promise<string> {
  const health = (await fetch(`${g.api}/health`).then((r) => r.json()).catch(() => ({}))) as { sip?: { wired?: boolean }; media?: { wired?: boolean } };
  if (health.sip?.wired === false) return 'SIP is not wired into main.ts yet';
  if (health.media?.wired === false) return 'media is not wired into main.ts yet';
  const streams = await g.request('GET', '/streams');
  if (streams.status !== 200) return `the REST API is not wired into main.ts yet (GET /streams ${streams.status})`;
  return '';
}

export function removeDataDir(g: GatewayProcess): void {
  rmSync(g.dataDir, { recursive: true, force: true });
}

/** A random port window, so parallel test files rarely meet (the engine skips busy ports). */
function rtpRange(count: number): [number, number] {
  const base = 20000 + Math.floor(Math.random() * Math.floor((EPHEMERAL_LOW - 20000) / count)) * count;
  return [base, base + count - 1];
}
