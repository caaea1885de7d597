// End to end: the real gateway process, simulated devices over real SIP and RTP, viewers reading
// the returned URLs with ffprobe / node-av.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimulator, type Simulator } from '@gb28181/gb-sim';
import { createMediaCalls, type MediaCalls } from '../../gb-sim/src/media-calls.ts';
import { ensureFixture } from '../../media/test/support/fixtures.ts';
import { missingWiring, removeDataDir, startGateway, type GatewayProcess } from './support/e2e-gateway.ts';
import { download, downloadHls, ffprobeFrames, nodeAvVideoPackets } from './support/e2e-media.ts';
import { until as waitUntil } from './support/until.ts';

const PASSWORD = 'e2e-pass-123';
let gw: GatewayProcess;
const sims: Simulator[] = [];
let work: string;
let notWired = '';

interface StreamView {
  streamid: string;
  status: string;
  msg: string;
  flv: string;
  http: string;
  rtmp: string;
  wsflv: string;
  diagnosis?: { transport?: string; sdpOffer?: string; sdpAnswer?: string; failedStep?: string; lastError?: string };
  live?: Record<string, unknown>;
}

const until = <T>(what: () => Promise<T | undefined | false>, ms: number, label: string): Promise<T> =>
  waitUntil(what, ms, label, () => gw.output().slice(-3000));

/** Creates a device through the API and brings up a simulated camera with that id and password. */
async function cameraThroughApi(codec: 'h264' | 'h265'): Promise<{ deviceId: string; channelId: string; calls: MediaCalls; sim: Simulator }> {
  const created = await gw.request<{ deviceid: string; sip: { host: string; port: number; server_id: string; password: string } }>('POST', '/devices', {
    name: `e2e ${codec}`,
    pwd: PASSWORD,
  });
  assert.equal(created.status, 201, JSON.stringify(created));
  const { deviceid, sip } = created.data;
  assert.equal(sip.port, gw.sipPort);
  const file = await ensureFixture({ codec, seconds: 4, fps: 25, gop: 25, width: 320, height: 240 });
  let calls!: MediaCalls;
  const sim = await createSimulator({
    server: { host: sip.host, port: sip.port },
    serverId: sip.server_id,
    firstId: deviceid,
    password: sip.password ?? PASSWORD,
    keepaliveS: 20,
    calls: (s) => (calls = createMediaCalls(s, { file, codec })),
  });
  sims.push(sim);
  await sim.start();
  const channels = await until(
    async () => {
      const r = await gw.request<{ total: number; list: { channelid: string }[] }>('GET', `/devices/${deviceid}/channels`);
      return r.data?.total > 0 ? r.data.list : undefined;
    },
    15_000,
    'the catalog to sync',
  );
  return { deviceId: deviceid, channelId: channels[0]!.channelid, calls, sim };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'gb-e2e-play-'));
  gw = await startGateway({ env: { GB_PLAY_TIMEOUT_S: '10' } });
  notWired = await missingWiring(gw);
});

after(async () => {
  for (const s of sims) await s.close().catch(() => undefined);
  await gw?.stop();
  if (gw) removeDataDir(gw);
  rmSync(work, { recursive: true, force: true });
});

describe('live and playback end to end', { timeout: 150_000 }, () => {
  let cam: Awaited<ReturnType<typeof cameraThroughApi>>;

  before(async () => {
    if (!notWired) cam = await cameraThroughApi('h264');
  });

  test('a device coming online is asked for DeviceInfo: GET /devices/:id shows its manufacturer, model and firmware', async (t) => {
    if (notWired) return t.skip(notWired);
    const device = await until(
      async () => {
        const r = await gw.request<{ manufacturer: string; model: string; firmware: string; online: boolean }>('GET', `/devices/${cam.deviceId}`);
        return r.data?.manufacturer ? r.data : undefined;
      },
      10_000,
      'DeviceInfo stored',
    );
    assert.deepEqual([device.manufacturer, device.model, device.firmware, device.online], ['gb-sim', 'SIM-IPC', 'V1.0.0', true]);
  });

  for (const mode of ['udp', 'tcp-passive', 'tcp-active'] as const) {
    test(`POST /channels/:id/streams plays live over ${mode}: FLV and HLS carry frames, DELETE makes the device see a BYE`, async (t) => {
      if (notWired) return t.skip(notWired);
      const patched = await gw.request('POST', `/devices/${cam.deviceId}`, { stream_mode: mode });
      assert.equal(patched.status, 200, JSON.stringify(patched));
      const t0 = Date.now();
      const played = await gw.request<StreamView>('POST', `/channels/${cam.channelId}/streams`, { replay: 0 });
      assert.equal(played.status, 200, JSON.stringify(played) + gw.output().slice(-2000));
      const s = played.data;
      // signed by default (GB_MEDIA_AUTH on): the URL works as returned, and not without its sign
      assert.match(s.flv, new RegExp(`/rtp/${s.streamid}\\.flv\\?sign=\\d+-[0-9a-f]{32}$`));
      assert.equal((await fetch(s.http.split('?')[0]!)).status, 403);
      const playMs = Date.now() - t0;

      const again = await gw.request<StreamView>('POST', `/channels/${cam.channelId}/streams`, { replay: 0 });
      assert.equal(again.data.streamid, s.streamid, 'a second live play shares the stream');

      const flvFile = join(work, `${mode}.flv`);
      const bytes = await download(s.flv, flvFile, 3000);
      assert.ok(bytes > 10_000, `FLV bytes ${bytes}`);
      const flv = await ffprobeFrames(flvFile);
      assert.equal(flv.codec, 'h264', flv.raw);
      assert.ok(flv.frames >= 40, `FLV frames in 3 s at 25 fps: ${flv.frames}`);

      const hlsFile = join(work, `${mode}.ts`);
      const hls = await until(
        async () => {
          await downloadHls(s.http, hlsFile);
          const r = await ffprobeFrames(hlsFile);
          return r.frames >= 50 ? r : undefined;
        },
        20_000,
        'two HLS segments of frames',
      );
      assert.equal(hls.codec, 'h264');

      const view = await gw.request<StreamView>('GET', `/streams/${s.streamid}`);
      assert.equal(view.data.status, 'playing');
      const diag = view.data.diagnosis ?? {};
      assert.equal(diag.transport, mode);
      assert.match(diag.sdpOffer ?? '', mode === 'udp' ? /RTP\/AVP/ : /TCP\/RTP\/AVP/);
      assert.match(diag.sdpAnswer ?? '', /y=\d{10}/);

      const endedBefore = cam.calls.stats().ended;
      const del = await gw.request('DELETE', `/streams/${s.streamid}`);
      assert.equal(del.status, 200);
      await until(async () => cam.calls.stats().ended > endedBefore, 5000, 'the device to see a BYE');
      const closed = await gw.request<StreamView>('GET', `/streams/${s.streamid}`);
      assert.equal(closed.data.status, 'closed');
      assert.ok(closed.data.msg.length > 0);
      console.log(`# ${mode}: POST→URL ${playMs} ms, FLV ${flv.frames} frames/3 s, HLS ${hls.frames} frames`);
    });
  }

  test('a playback chosen from GET /channels/:id/records ends with a BYE after MediaStatus 121', async (t) => {
    if (notWired) return t.skip(notWired);
    const now = Math.floor(Date.now() / 1000);
    const rec = await gw.request<{ daynum: number; timenum: number; list: { date: string; items: { start: number; end: number }[] }[] }>(
      'GET',
      `/channels/${cam.channelId}/records?start=${now - 6 * 3600}&end=${now}`,
    );
    assert.equal(rec.status, 200, JSON.stringify(rec));
    assert.ok(rec.data.timenum > 0);
    const seg = rec.data.list.flatMap((d) => d.items)[0]!;
    const endedBefore = cam.calls.stats().ended;
    const played = await gw.request<StreamView>('POST', `/channels/${cam.channelId}/streams`, { replay: 1, start: seg.start, end: seg.end });
    assert.equal(played.status, 200, JSON.stringify(played));
    const other = await gw.request<StreamView>('POST', `/channels/${cam.channelId}/streams`, { replay: 1, start: seg.start, end: seg.end });
    assert.notEqual(other.data.streamid, played.data.streamid, 'each playback is its own stream');
    // The simulated file lasts 4 s; then the device says 121 and the platform hangs up.
    await until(
      async () => {
        const v = await gw.request<StreamView>('GET', `/streams/${played.data.streamid}`);
        return v.data.status === 'closed' ? v : undefined;
      },
      20_000,
      'the playback to end',
    );
    const v = await gw.request<StreamView>('GET', `/streams/${played.data.streamid}`);
    assert.equal(v.data.msg, 'playback-end');
    await until(async () => cam.calls.stats().ended >= endedBefore + 2, 10_000, 'BYEs for both playbacks');
  });

  test('an H.265 camera plays live: node-av reads HEVC from the FLV, ffprobe from the HLS', async (t) => {
    if (notWired) return t.skip(notWired);
    const hevc = await cameraThroughApi('h265');
    const played = await gw.request<StreamView>('POST', `/channels/${hevc.channelId}/streams`, { replay: 0 });
    assert.equal(played.status, 200, JSON.stringify(played));
    const file = join(work, 'hevc.flv');
    await download(played.data.flv, file, 3000);
    const flv = await nodeAvVideoPackets(file);
    const { AV_CODEC_ID_HEVC } = await import('node-av/constants');
    assert.equal(flv.codecId, Number(AV_CODEC_ID_HEVC));
    assert.ok(flv.packets >= 40, `HEVC FLV packets: ${flv.packets}`);
    assert.equal(flv.width, 320);
    const hlsFile = join(work, 'hevc.ts');
    const hls = await until(
      async () => {
        await downloadHls(played.data.http, hlsFile);
        const r = await ffprobeFrames(hlsFile);
        return r.frames >= 50 ? r : undefined;
      },
      20_000,
      'two HEVC HLS segments of frames',
    );
    assert.equal(hls.codec, 'hevc');
    await gw.request('DELETE', `/streams/${played.data.streamid}`);
  });

  test('a play of a channel whose device is gone fails and says which step failed', async (t) => {
    if (notWired) return t.skip(notWired);
    const dead = await cameraThroughApi('h264');
    await dead.sim.close();
    const played = await gw.request<unknown>('POST', `/channels/${dead.channelId}/streams`, { replay: 0 });
    assert.ok(played.status >= 400, JSON.stringify(played));
    assert.match(String(played.data), /INVITE|offline|media/);
  });

  test('SIGTERM hangs up every open stream with a BYE before the gateway exits', async (t) => {
    if (notWired) return t.skip(notWired);
    const played = await gw.request<StreamView>('POST', `/channels/${cam.channelId}/streams`, { replay: 0 });
    assert.equal(played.status, 200);
    const ended = cam.calls.stats().ended;
    await gw.stop();
    assert.equal(gw.child.exitCode, 0, gw.output().slice(-2000));
    await until(async () => cam.calls.stats().ended === ended + 1, 3000, 'the BYE of the shutdown');
  });
});
