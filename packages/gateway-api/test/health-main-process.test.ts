import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../../../scripts/test-services.mjs';
import { npmStartArgs } from './support/e2e-gateway.ts';

// `npm start` as operators run it: the real process, its exit codes and its messages.

const root = new URL('../../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'gb-main-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let runs = 0;

interface Run {
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
  stdout: () => string;
  kill: (sig: NodeJS.Signals) => void;
}

function startMain(env: Record<string, string>): Run {
  const child = spawn(process.execPath, npmStartArgs(), {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      GB_DATA_DIR: join(dir, `run-${++runs}`),
      GB_SIP_HOST: '127.0.0.1',
      GB_API_HOST: '127.0.0.1',
      GB_RTP_PORTS: rtpWindow(),
      GB_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return {
    exit: new Promise((resolve) =>
      child.on('exit', (code) => {
        clearTimeout(killer);
        resolve({ code, stdout, stderr });
      }),
    ),
    stdout: () => stdout,
    kill: (sig) => child.kill(sig),
  };
}

/** a small random RTP window: other suites use the default range */
function rtpWindow(): string {
  const base = 41000 + Math.floor(Math.random() * 400) * 20;
  return `${base}-${base + 9}`;
}

async function ports(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(String(await freePort()));
  return out;
}

describe('main.ts (npm start)', () => {
  it('exits with code 2 and names the key when a config value is invalid', async () => {
    const r = await startMain({ GB_SIP_PORT: 'abc' }).exit;
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), 'config: GB_SIP_PORT must be an integer 1-65535 (got "abc")');
  });

  it('exits with code 1 naming the port key when a port is in use', async () => {
    const [sip, api, http] = await ports(3);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '0.0.0.0', r));
    const rtmp = (blocker.address() as { port: number }).port;
    try {
      const r = await startMain({ GB_SIP_PORT: sip!, GB_API_PORT: api!, GB_MEDIA_HTTP_PORT: http!, GB_MEDIA_RTMP_PORT: String(rtmp) }).exit;
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`GB_MEDIA_RTMP_PORT ${rtmp} is in use`));
    } finally {
      blocker.close();
    }
  });

  it('exits with code 1 and one line naming DATABASE_URL (password masked) when the database is unreachable', async () => {
    const [sip, api, http, rtmp] = await ports(4);
    const r = await startMain({
      GB_SIP_PORT: sip!, GB_API_PORT: api!, GB_MEDIA_HTTP_PORT: http!, GB_MEDIA_RTMP_PORT: rtmp!,
      DATABASE_URL: 'mysql://gb:hunter2@127.0.0.1:1/gb28181',
    }).exit;
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^storage: cannot open DATABASE_URL mysql:\/\/gb:\*\*\*@127\.0\.0\.1:1\/gb28181: ECONNREFUSED/);
    assert.doesNotMatch(r.stderr + r.stdout, /hunter2/);
  });

  it('serves /health, prints the generated token once, and stops cleanly on SIGTERM', async () => {
    const [sip, api, http, rtmp] = await ports(4);
    const run = startMain({ GB_SIP_PORT: sip!, GB_API_PORT: api!, GB_MEDIA_HTTP_PORT: http!, GB_MEDIA_RTMP_PORT: rtmp! });
    try {
      const deadline = Date.now() + 30_000;
      while (!run.stdout().includes('platform started')) {
        assert.ok(Date.now() < deadline, `not started: ${run.stdout()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const res = await fetch(`http://127.0.0.1:${api}/health`);
      assert.equal(res.status, 200);
      // the REST app wraps it in its envelope ({code, msgid, data}); the bare health handler does not
      const body = (await res.json()) as { status?: string; data?: { status?: string } };
      assert.equal((body.data ?? body).status, 'ok', JSON.stringify(body));
      assert.match(run.stdout(), /API token \(saved in .*api-token, shown once\): \S{24,}/);
    } catch (err) {
      run.kill('SIGKILL');
      throw err;
    }
    run.kill('SIGTERM');
    const r = await run.exit;
    assert.equal(r.code, 0);
    assert.match(r.stdout, /"msg":"stopped"/);
  });
});
