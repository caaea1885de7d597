import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERVER_ID, startServer } from './support/server.ts';

const bin = fileURLToPath(new URL('../bin/gb-sim.mjs', import.meta.url));

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

test('gb-sim --devices 3 --kind nvr registers against the server, prints progress, and unregisters at --duration', async () => {
  const server = await startServer({ passwords: () => 'cli-pw' });
  const seen = new Set<string>();
  const gone = new Set<string>();
  server.on('registered', (d) => seen.add(d.deviceId));
  server.on('unregistered', (u) => gone.add(u.deviceId));
  try {
    const r = await runCli(['--server', `127.0.0.1:${server.port}`, '--server-id', SERVER_ID, '--devices', '3', '--kind', 'nvr', '--channels', '2',
      '--password', 'cli-pw', '--transport', 'tcp', '--duration', '1', '--gb2312']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /registered 3\/3 fail 0/);
    assert.deepEqual([...seen].sort(), ['34020000001180000001', '34020000001180000002', '34020000001180000003']);
    assert.equal(gone.size, 3);
  } finally {
    await server.close();
  }
});

test('gb-sim --help prints usage and a bad flag exits 2 naming it', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--one-item-per-message/);
  const bad = await runCli(['--password', 'x', '--transport', 'sctp']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--transport must be udp or tcp/);
});
