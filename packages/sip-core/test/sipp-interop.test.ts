// Interop with an independent SIP implementation: SIPp (Debian package sip-tester) plays the
// devices against our server over UDP and TCP: REGISTER with SIPp's own digest, a keepalive, and
// a Catalog answer spread over three MESSAGEs (GB2312 names) from SIPp's out-of-call scenario.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dgram from 'node:dgram';
import net from 'node:net';
import { createSipServer, type CatalogResult, type SipServer } from '../src/index.ts';

const SIPP = process.env.SIPP ?? '/usr/bin/sipp';
const SERVER_ID = '34020000002000000001';
const DOMAIN = SERVER_ID.slice(0, 10);
const scenario = (name: string) => fileURLToPath(new URL(`./sipp/${name}`, import.meta.url));
const haveSipp = existsSync(SIPP);
const skip = !haveSipp && process.env.CI !== 'true' ? `${SIPP} not found (install the Debian package sip-tester)` : false;

/** SIPp binds 5060 unless told otherwise, which collides with parallel tests: pick a free port. */
async function freePort(): Promise<number> {
  for (;;) {
    const srv = net.createServer();
    const port = await new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as net.AddressInfo).port)));
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      udp.once('error', () => r(false));
      udp.bind(port, '127.0.0.1', () => r(true));
    });
    await new Promise<void>((r) => srv.close(() => r()));
    await new Promise<void>((r) => (ok ? udp.close(() => r()) : r()));
    if (ok) return port;
  }
}

function runSipp(args: string[], dir: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(SIPP, [...args, '-nostdin'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out = (out + d.toString('latin1')).slice(-20_000); });
    child.stderr.on('data', (d: Buffer) => { out = (out + d.toString('latin1')).slice(-20_000); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const deviceIds = ['34020000001320000101', '34020000001320000102'];
const password = (id: string) => `sipp-${id.slice(-3)}`;

async function startServer(): Promise<SipServer> {
  return createSipServer({
    serverId: SERVER_ID, host: '127.0.0.1', port: 0, publicIp: '127.0.0.1', registerPolicy: 'known', keepaliveTimeoutS: 180,
    nonceSecret: 'sipp-interop', catalogOnRegister: false,
    credentials: { async lookup(deviceId) { return deviceIds.includes(deviceId) ? { deviceId, password: password(deviceId) } : null; } },
  });
}

if (!haveSipp && process.env.CI === 'true') {
  test('sipp is installed under CI', () => assert.fail(`${SIPP} missing: install the Debian package sip-tester`));
}

for (const [transport, flag] of [['udp', 'u1'], ['tcp', 't1']] as const) {
  test(`SIPp devices register with digest, keepalive and answer a multi-message Catalog over ${transport}`, { skip }, async () => {
    const server = await startServer();
    const dir = mkdtempSync(join(tmpdir(), 'sipp-interop-'));
    const keepalives = new Set<string>();
    const catalogs = new Map<string, Promise<CatalogResult>>();
    server.on('keepalive', (k) => keepalives.add(k.deviceId));
    // The query goes out while SIPp's call pauses; SIPp hands it to the out-of-call scenario.
    server.on('keepalive', (k) => {
      if (catalogs.has(k.deviceId)) return;
      const p = server.queryCatalog(k.deviceId, { timeoutMs: 8000 });
      p.catch(() => undefined); // awaited below; a failure there is the assertion
      catalogs.set(k.deviceId, p);
    });
    try {
      const csv = join(dir, 'devices.csv');
      writeFileSync(csv, 'SEQUENTIAL\n' + deviceIds.map((id) => `${id};[authentication username=${id} password=${password(id)}];${SERVER_ID};${DOMAIN}`).join('\n') + '\n');
      const run = await runSipp([
        `127.0.0.1:${server.port}`, '-sf', scenario('register-keepalive-uac.xml'), '-oocsf', scenario('catalog-answer-ooc.xml'),
        '-inf', csv, '-i', '127.0.0.1', '-p', String(await freePort()), '-t', flag, '-m', String(deviceIds.length), '-r', '10', '-d', '3000',
        '-trace_err',
      ], dir);
      assert.equal(run.code, 0, `sipp exit ${run.code}\n${run.out.slice(-3000)}`);

      for (const id of deviceIds) {
        const d = server.device(id);
        assert.ok(d?.online, `${id} registered and online`);
        assert.equal(d.transport, transport);
        assert.ok(keepalives.has(id), `keepalive of ${id} counted`);
        const catalog = await catalogs.get(id);
        assert.ok(catalog, `catalog of ${id} queried`);
        assert.equal(catalog.sumNum, 3);
        assert.equal(catalog.complete, true, JSON.stringify(catalog));
        const serial = id.slice(-6);
        assert.deepEqual(catalog.items.map((i) => i.deviceId).sort(), [0, 1, 2].map((n) => `${DOMAIN}131${n}${serial}`));
        assert.deepEqual(catalog.items.map((i) => i.name).sort(), ['SIPp通道1', 'SIPp通道2', 'SIPp通道3']);
      }
    } finally {
      await server.close();
      if (!process.env.KEEP_SIPP) rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('SIPp with a wrong password is refused and never comes online', { skip }, async () => {
  const server = await startServer();
  const dir = mkdtempSync(join(tmpdir(), 'sipp-interop-'));
  try {
    const id = deviceIds[0]!;
    const csv = join(dir, 'devices.csv');
    writeFileSync(csv, `SEQUENTIAL\n${id};[authentication username=${id} password=wrong];${SERVER_ID};${DOMAIN}\n`);
    const run = await runSipp([
      `127.0.0.1:${server.port}`, '-sf', scenario('register-keepalive-uac.xml'), '-inf', csv, '-i', '127.0.0.1', '-p', String(await freePort()),
      '-t', 'u1', '-m', '1',
    ], dir);
    assert.notEqual(run.code, 0, 'the scenario expects 200 and must fail');
    // Our registrar re-challenges a bad digest (401) and answers 403 after repeated failures.
    assert.match(run.out, /received 'SIP\/2\.0 (401|403)/);
    assert.equal(server.device(id)?.online ?? false, false);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
