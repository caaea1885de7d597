import { test, before } from 'node:test';
import { rmSync } from 'node:fs';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { createSimulator, freePort, RegisterError, sippAvailable, startSipp } from '../src/index.ts';

const scenario = fileURLToPath(new URL('./sipp/registrar-verifyauth.xml', import.meta.url));
const skip = !sippAvailable() && process.env.CI !== 'true' ? 'sipp (package sip-tester) is not installed' : false;

before(() => {
  if (process.env.CI === 'true') assert.ok(sippAvailable(), 'sipp is required under CI');
});

test('device.register() answers a qop=auth challenge with a digest that SIPp verifyauth accepts, and a wrong password gets 403', { skip }, async () => {
  const port = await freePort();
  const sipp = startSipp(['-sf', scenario, '-i', '127.0.0.1', '-p', String(port), '-set', 'pw', 's3cret', '-m', '2'], { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 300)); // sipp binds its socket
  const good = await createSimulator({ server: { host: '127.0.0.1', port }, password: 's3cret' });
  const bad = await createSimulator({ server: { host: '127.0.0.1', port }, password: 'wrong', firstId: '34020000001320000009' });
  try {
    const latency = await good.devices[0]!.register();
    assert.ok(latency > 0 && latency < 10_000);
    assert.equal(good.devices[0]!.registered, true);
    await assert.rejects(bad.devices[0]!.register(), (err: unknown) => err instanceof RegisterError && err.status === 403);
    assert.equal(bad.devices[0]!.registered, false);
  } finally {
    await good.close();
    await bad.close();
  }
  const run = await sipp.done;
  rmSync(run.dir, { recursive: true, force: true });
  assert.equal(run.code, 0, run.stdout.slice(-2000));
});
