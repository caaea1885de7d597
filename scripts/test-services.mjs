// Private MariaDB and Redis servers for tests, started from the Debian binaries on 127.0.0.1 with
// free ports and a temp data dir. Used by scripts/run-tests.mjs (one pair for the whole run) and by
// tests that must kill and restart their own database (db-recovery).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export function which(names) {
  for (const name of names) {
    if (name.startsWith('/')) {
      if (existsSync(name)) return name;
      continue;
    }
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      const full = join(dir, name);
      if (dir && existsSync(full)) return full;
    }
  }
  return undefined;
}

export const mariadbdPath = () => which(['mariadbd', '/usr/sbin/mariadbd', 'mysqld', '/usr/sbin/mysqld']);
export const redisServerPath = () => which(['redis-server', '/usr/bin/redis-server']);

/**
 * Where the kernel's ephemeral ports begin. Outgoing connections (database and Redis clients, other
 * suites) take local ports from that range at any moment, so a port handed out from it can be gone
 * by the time its server binds it, seconds later under tsx or after a restart on the same ports.
 * Test ports come from below it: single ports from 10000 to 19999, ranges from 20000.
 */
export const EPHEMERAL_LOW = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
})();

const tcpFree = (port) =>
  new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

const udpFree = (port) =>
  new Promise((resolve) => {
    const u = createSocket('udp4');
    u.once('error', () => resolve(false));
    u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
  });

/** A port free for both TCP and UDP on 127.0.0.1 right now (SIP listens on both), below the ephemeral range. */
export async function freePort() {
  for (;;) {
    const port = 10000 + Math.floor(Math.random() * 10000);
    if ((await tcpFree(port)) && (await udpFree(port))) return port;
  }
}

// Last resort when the owning process exits without stopping its servers (a crashed test):
// never leave a mariadbd or redis-server running.
const live = new Set();
const tempDirs = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, probe, timeoutMs, child) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}: ${child.stderrTail?.() ?? ''}`);
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms${last ? ': ' + last.message : ''}`);
}

function keepTail(child) {
  let tail = '';
  const add = (d) => {
    tail = (tail + d.toString()).slice(-2000);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  child.stderrTail = () => tail.trim().split('\n').slice(-5).join(' | ');
}

function stopChild(child, timeoutMs = 10000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts mariadbd on a fresh datadir. Returns { url, rootUrl, port, dir, stop(), kill(), start() }:
 * kill() is SIGKILL (a crash), start() brings the same datadir back on the same port.
 */
export async function startMariadb({ database = 'gbtest', timeoutMs = 60000 } = {}) {
  const bin = mariadbdPath();
  if (!bin) throw new Error('mariadbd not found (apt-get install mariadb-server)');
  const installDb = which(['mariadb-install-db', '/usr/bin/mariadb-install-db', 'mysql_install_db']);
  if (!installDb) throw new Error('mariadb-install-db not found');
  const dir = mkdtempSync(join(tmpdir(), 'gb-mariadb-'));
  tempDirs.add(dir);
  const datadir = join(dir, 'data');
  const init = spawnSync(
    installDb,
    ['--user=root', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve'],
    { encoding: 'utf8' },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed: ${(init.stderr || init.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  }
  const port = await freePort();
  const { default: mysql } = await import('mysql2/promise');
  let child;
  const server = {
    port,
    dir,
    rootUrl: `mysql://root@127.0.0.1:${port}/`,
    url: `mysql://root@127.0.0.1:${port}/${database}`,
    async start() {
      child = track(spawn(
        bin,
        [
          '--no-defaults', '--user=root', `--datadir=${datadir}`, `--socket=${join(dir, 'mysqld.sock')}`,
          `--pid-file=${join(dir, 'mysqld.pid')}`, `--port=${port}`, '--bind-address=127.0.0.1',
          '--skip-log-bin', '--skip-name-resolve', '--innodb-buffer-pool-size=32M', '--innodb-log-file-size=16M',
          '--performance-schema=OFF', '--max-connections=500', '--innodb-flush-log-at-trx-commit=2',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ));
      keepTail(child);
      server.pid = child.pid;
      await waitFor(
        `mariadbd on 127.0.0.1:${port}`,
        async () => {
          const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
          await c.end();
          return true;
        },
        timeoutMs,
        child,
      );
    },
    /** graceful shutdown */
    async stop() {
      await stopChild(child);
    },
    /** SIGKILL, as a crash or a pulled cable would */
    async kill() {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
    },
    async destroy() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  };
  try {
    await server.start();
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
    await c.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4`);
    await c.end();
  } catch (err) {
    await server.destroy();
    throw err;
  }
  return server;
}

/** Starts redis-server without persistence. Returns { url, port, stop(), start() }: start() after stop() brings it back on the same port, empty. */
export async function startRedis({ timeoutMs = 15000 } = {}) {
  const bin = redisServerPath();
  if (!bin) throw new Error('redis-server not found (apt-get install redis-server)');
  const port = await freePort();
  let child;
  const server = {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    pid: undefined,
    async start() {
      child = track(
        spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      keepTail(child);
      server.pid = child.pid;
      await waitFor(`redis-server on 127.0.0.1:${port}`, () => redisPing(port), timeoutMs, child).catch(async (err) => {
        await stopChild(child);
        throw err;
      });
    },
    stop: () => stopChild(child),
  };
  await server.start();
  return server;
}

function redisPing(port) {
  return new Promise((resolve) => {
    const s = createConnection(port, '127.0.0.1');
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
  });
}
