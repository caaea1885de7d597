#!/usr/bin/env node
// Runs every packages/*/test/**/*.test.ts with node's own runner under tsx.
// Node 20 does not expand quoted globs and runs zero tests for a folder argument,
// so the files are listed here and an empty list is an error.
// Usage: node scripts/run-tests.mjs [path-prefix ...]   (e.g. packages/media)
//
// Services: when gateway-api tests are selected (or GB_TEST_SERVICES=on) and GB_TEST_MYSQL_URL /
// GB_TEST_REDIS_URL are not set, a private mariadbd and redis-server are started on 127.0.0.1
// (free ports, temp dirs) for the run and their URLs exported to the tests. Under CI=true, failing to
// start either is an error. GB_TEST_SERVICES=off never starts them.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { mariadbdPath, redisServerPath, startMariadb, startRedis } from './test-services.mjs';

const root = new URL('..', import.meta.url).pathname;
const prefixes = process.argv.slice(2).map((p) => p.replace(/\/$/, '').replace(/^\.\//, ''));
const ci = process.env.CI === 'true' || process.env.CI === '1';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'fixtures-out') continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, full));
  }
  return out;
}

const files = [];
for (const pkg of readdirSync(join(root, 'packages'))) {
  const testDir = join(root, 'packages', pkg, 'test');
  try { statSync(testDir); } catch { continue; }
  walk(testDir, files);
}
const selected = files
  .filter((f) => prefixes.length === 0 || prefixes.some((p) => f.startsWith(p)))
  .sort();
if (selected.length === 0) {
  console.error(`run-tests: no test files matched ${prefixes.join(' ') || 'packages/*/test'}`);
  process.exit(1);
}
console.log(`run-tests: ${selected.length} files`);

const env = { ...process.env };
const started = [];
async function stopServices() {
  for (const s of started.splice(0).reverse()) await s.stop().catch(() => undefined);
}


const wantServices =
  process.env.GB_TEST_SERVICES === 'on' ||
  (process.env.GB_TEST_SERVICES !== 'off' && selected.some((f) => f.startsWith('packages/gateway-api/')));

async function startServices() {
  if (!wantServices) return;
  if (!env.GB_TEST_MYSQL_URL) {
    if (!mariadbdPath()) {
      if (ci) throw new Error('mariadbd not found under CI');
      console.log('run-tests: mariadbd not found, MariaDB suites will be skipped');
    } else {
      const t = Date.now();
      const m = await startMariadb();
      started.push({ stop: () => m.destroy() });
      env.GB_TEST_MYSQL_URL = m.url;
      console.log(`run-tests: private MariaDB at ${m.url} (${Date.now() - t} ms)`);
    }
  }
  if (!env.GB_TEST_REDIS_URL) {
    if (!redisServerPath()) {
      if (ci) throw new Error('redis-server not found under CI');
      console.log('run-tests: redis-server not found, Redis suites will be skipped');
    } else {
      const r = await startRedis();
      started.push(r);
      env.GB_TEST_REDIS_URL = r.url;
      console.log(`run-tests: private Redis at ${r.url}`);
    }
  }
}

try {
  await startServices();
} catch (err) {
  await stopServices();
  console.error(`run-tests: cannot start test services: ${err.message}`);
  if (ci) process.exit(1);
  console.error('run-tests: continuing without them (MariaDB/Redis suites skip outside CI)');
}

const concurrency = process.env.GB_TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=300000', ...selected],
  { stdio: 'inherit', cwd: root, env },
);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => child.kill(sig));
}
const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await stopServices();
process.exit(code);
