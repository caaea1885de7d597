#!/usr/bin/env node
// Runs every packages/*/test/**/*.test.ts with node's own runner under tsx.
// Node 20 does not expand quoted globs and runs zero tests for a folder argument,
// so the files are listed here and an empty list is an error.
// Usage: node scripts/run-tests.mjs [path-prefix ...]   (e.g. packages/media)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const prefixes = process.argv.slice(2).map((p) => p.replace(/\/$/, ''));

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
const concurrency = process.env.GB_TEST_CONCURRENCY ?? '2';
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=300000', ...selected],
  { stdio: 'inherit', cwd: root, env: process.env },
);
process.exit(r.status ?? 1);
