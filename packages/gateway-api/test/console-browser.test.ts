// The operator console end to end: the real gateway process, a simulated camera registering over
// real SIP, and headless Chromium clicking Play until the <video> element really decodes frames.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createSimulator, type Simulator } from '@gb28181/gb-sim';
import { createMediaCalls, type MediaCalls } from '../../gb-sim/src/media-calls.ts';
import { ensureFixture } from '../../media/test/support/fixtures.ts';
import { missingWiring, removeDataDir, startGateway, type GatewayProcess } from './support/e2e-gateway.ts';
import { until as waitUntil } from './support/until.ts';

const chromiumPath = '/usr/bin/chromium';
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// Locally a machine without Chromium skips; CI must have it, so there the test runs and fails.
const noBrowser = existsSync(chromiumPath) || process.env.CI === 'true' ? false : `no ${chromiumPath}`;
const fixture = { codec: 'h264', seconds: 4, fps: 25, gop: 25, width: 320, height: 240 } as const;
const PASSWORD = 'console-pass-123';

let gw: GatewayProcess;
let notWired = '';
let sim: Simulator | undefined;
let calls: MediaCalls;
let browser: Browser | undefined;

const until = <T>(what: () => Promise<T | undefined | false>, ms: number, label: string): Promise<T> =>
  waitUntil(what, ms, label, () => gw.output().slice(-3000));

before(async () => {
  gw = await startGateway({ env: { GB_PLAY_TIMEOUT_S: '10' } });
  notWired = await missingWiring(gw);
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await sim?.close().catch(() => undefined);
  await gw?.stop();
  if (gw) removeDataDir(gw);
});

describe('GET /console', () => {
  test('serves the page, its script and the installed mpegts.js without a token, and nothing else under /console', async () => {
    const page = await fetch(`${gw.api}/console`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await page.text();
    assert.doesNotMatch(html, /https?:\/\//, 'no CDN');
    for (const asset of ['/console/console.js', '/console/console.css', '/console/mpegts.js']) assert.ok(html.includes(asset), asset);
    assert.equal((await fetch(`${gw.api}/console/`)).status, 200, 'a trailing slash still finds the page');

    const script = await fetch(`${gw.api}/console/console.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    assert.ok((await script.text()).split('\n').length < 250, 'the console script stays small');

    const dist = join(dirname(createRequire(import.meta.url).resolve('mpegts.js/package.json')), 'dist', 'mpegts.js');
    const player = await fetch(`${gw.api}/console/mpegts.js`);
    assert.ok(Buffer.from(await player.arrayBuffer()).equals(readFileSync(dist)), 'mpegts.js is the installed file');

    for (const bad of ['package.json', 'console.html.bak']) {
      assert.equal((await fetch(`${gw.api}/console/${bad}`)).status, 404, bad);
    }
    // Not a console path at all: the API's auth answers it.
    assert.equal((await fetch(`${gw.api}/console/..%2Fsrc%2Fmain.ts`)).status, 401);
    assert.equal((await fetch(`${gw.api}/devices`)).status, 401, 'the API itself still wants the token');
  });
});

describe('the console in Chromium', { skip: noBrowser, timeout: 90_000 }, () => {
  let deviceId: string;
  let channelId: string;
  let page: Page;
  const pageErrors: string[] = [];
  const foreignRequests: string[] = [];

  before(async () => {
    if (notWired) return;
    const created = await gw.request<{ deviceid: string; sip: { host: string; port: number; server_id: string; password?: string } }>('POST', '/devices', {
      name: 'Gate camera',
      pwd: PASSWORD,
    });
    assert.equal(created.status, 201, JSON.stringify(created));
    deviceId = created.data.deviceid;
    const file = await ensureFixture(fixture);
    sim = await createSimulator({
      server: { host: created.data.sip.host, port: created.data.sip.port },
      serverId: created.data.sip.server_id,
      firstId: deviceId,
      password: PASSWORD,
      keepaliveS: 20,
      calls: (s) => (calls = createMediaCalls(s, { file, codec: fixture.codec })),
    });
    await sim.start();
    channelId = await until(
      async () => {
        const r = await gw.request<{ total: number; list: { channelid: string }[] }>('GET', `/devices/${deviceId}/channels`);
        return r.data?.total > 0 ? r.data.list[0]!.channelid : undefined;
      },
      15_000,
      'the catalog to sync',
    );
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('request', (req) => {
      const url = new URL(req.url());
      if (url.hostname !== '127.0.0.1' || ![new URL(gw.api).port, String(gw.mediaHttpPort)].includes(url.port)) foreignRequests.push(req.url());
    });
  });

  test('asks for the token, then lists the device online with its channel', async (t) => {
    if (notWired) return t.skip(notWired);
    await page.goto(`${gw.api}/console`);
    await page.waitForFunction(() => /token/i.test(document.getElementById('message')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await page.fill('#token', gw.token);
    await page.click('#token-form button[type=submit]');
    await page.waitForSelector(`button[data-play="${channelId}"]`, { timeout: 15_000 });
    assert.equal(await page.evaluate(() => localStorage.getItem('gb28181.console.token')), gw.token);
    const device = page.locator(`[data-device="${deviceId}"]`);
    assert.match((await device.textContent()) ?? '', /Gate camera/);
    assert.equal(await device.locator('h2 .badge').textContent(), 'online');
    // Channel names arrive GB18030-encoded from the camera: the page shows the API's text as is.
    const api = await gw.request<{ list: { name: string }[] }>('GET', `/devices/${deviceId}/channels`);
    assert.equal(await device.locator('.channels .name').first().textContent(), api.data.list[0]!.name || channelId);
  });

  test('Play shows the live video: currentTime passes 1 s at the fixture width', async (t) => {
    if (notWired) return t.skip(notWired);
    const t0 = Date.now();
    await page.click(`button[data-play="${channelId}"]`);
    // currentTime must move by a full second from where the picture first appeared: a live
    // stream's timeline need not start at 0.
    const handle = await page
      .waitForFunction(
        () => {
          const v = document.querySelector('video')!;
          const w = window as unknown as { firstShown?: number };
          if (v.videoWidth === 0 || v.readyState < 2) return false;
          w.firstShown ??= v.currentTime;
          // Frames presented, not only the clock: latency chasing may seek currentTime forward.
          const frames = v.getVideoPlaybackQuality().totalVideoFrames;
          return v.currentTime > 1 && v.currentTime - w.firstShown > 1 && frames >= 25 ? { time: v.currentTime, width: v.videoWidth, height: v.videoHeight, frames } : false;
        },
        undefined,
        { timeout: 25_000, polling: 100 },
      )
      .catch(async (err: Error) => {
        const state = await page.evaluate(() => ({
          state: document.getElementById('stream-state')?.textContent,
          error: document.getElementById('stream-error')?.textContent,
          time: document.querySelector('video')!.currentTime,
        }));
        throw new Error(`${err.message}\npage: ${JSON.stringify(state)}\n${gw.output().slice(-2000)}`);
      });
    const played = (await handle.jsonValue()) as { time: number; width: number; height: number; frames: number };
    assert.equal(played.width, fixture.width);
    assert.equal(played.height, fixture.height);
    assert.match((await page.textContent('#stream-state')) ?? '', /HTTP-FLV/);
    assert.equal(await page.textContent('#stream-error'), '');
    await page.screenshot({ path: '/tmp/console.png' });
    console.log(`# console: click → 1 s played (${played.frames} frames shown, currentTime ${played.time.toFixed(2)}) in ${Date.now() - t0} ms`);
  });

  test('Stop sends DELETE /streams/:id and the device sees a BYE', async (t) => {
    if (notWired) return t.skip(notWired);
    const ended = calls.stats().ended;
    await page.click('#stop');
    await page.waitForFunction(() => document.getElementById('stream-state')?.textContent === 'stopped', undefined, { timeout: 10_000 });
    await until(async () => calls.stats().ended > ended, 5000, 'the BYE');
    assert.equal(await page.isDisabled('#stop'), true);
  });

  test('a failed play shows the API error message', async (t) => {
    if (notWired) return t.skip(notWired);
    // A device that never registered, with a pre-registered channel: the play must fail and say why.
    const created = await gw.request<{ deviceid: string }>('POST', '/devices', { name: 'Never online' });
    const ch = await gw.request<{ channelid: string }>('POST', `/devices/${created.data.deviceid}/channels`, { memo: 'console test' });
    assert.equal(ch.status, 201, JSON.stringify(ch));
    await page.click('#refresh');
    await page.click(`button[data-play="${ch.data.channelid}"]`, { timeout: 15_000 });
    await page.waitForFunction(() => /play failed: ./.test(document.getElementById('stream-error')?.textContent ?? ''), undefined, { timeout: 20_000 });
    assert.equal(await page.textContent('#stream-state'), 'failed');
    console.log(`# console: failed play says "${await page.textContent('#stream-error')}"`);
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(foreignRequests, [], 'no request leaves the gateway (no CDN)');
  });

  test('without Media Source Extensions Play falls back to the HLS URL and still plays', async (t) => {
    if (notWired) return t.skip(notWired);
    // Chromium plays HLS natively (like Safari); hiding MSE takes the path iOS browsers take.
    const context = await browser!.newContext();
    await context.addInitScript((token) => {
      delete (window as { MediaSource?: unknown }).MediaSource;
      delete (window as { ManagedMediaSource?: unknown }).ManagedMediaSource;
      localStorage.setItem('gb28181.console.token', token);
    }, gw.token);
    const hlsPage = await context.newPage();
    const t0 = Date.now();
    hlsPage.on('pageerror', (err) => pageErrors.push(err.message));
    try {
      await hlsPage.goto(`${gw.api}/console`);
      await hlsPage.click(`button[data-play="${channelId}"]`, { timeout: 15_000 });
      const handle = await hlsPage
        .waitForFunction(
          () => {
            const v = document.querySelector('video')!;
            const w = window as unknown as { firstShown?: number };
            if (v.videoWidth === 0 || v.readyState < 2) return false;
            w.firstShown ??= v.currentTime;
            return v.currentTime - w.firstShown > 1 ? { width: v.videoWidth, state: document.getElementById('stream-state')!.textContent } : false;
          },
          undefined,
          { timeout: 30_000, polling: 100 },
        )
        .catch(async (err: Error) => {
          throw new Error(`${err.message}\npage: ${await hlsPage.textContent('#stream-error')}\n${gw.output().slice(-2000)}`);
        });
      const played = (await handle.jsonValue()) as { width: number; state: string };
      assert.equal(played.width, fixture.width);
      assert.match(played.state, /HLS/);
      console.log(`# console: HLS fallback, click → 1 s played in ${Date.now() - t0} ms (incl. page load, three 2 s segments)`);
      assert.deepEqual(pageErrors, []);
    } finally {
      await context.close();
    }
  });
});
