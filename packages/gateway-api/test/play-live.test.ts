// StreamManager against the real pieces in one process: sip-core's server, the media engine, a
// gb-sim camera sending GB-shaped PS over RTP, SQLite. ffprobe reads what a viewer would get.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { createSimulator, type Simulator } from '@gb28181/gb-sim';
import { MediaEngine } from '@gb28181/media';
import { createSipServer, type SipServer } from '@gb28181/sip-core';
import { createMediaCalls, type MediaCalls } from '../../gb-sim/src/media-calls.ts';
import { ensureFixture } from '../../media/test/support/fixtures.ts';
import type { PlayDialog } from '../src/play/play-dependencies.ts';
import { PlayError } from '../src/play/play-errors.ts';
import { reconcileStreams } from '../src/play/reconcile.ts';
import { Records } from '../src/play/records.ts';
import { StreamManager } from '../src/play/stream-manager.ts';
import { MemoryState } from '../src/state/memory-state.ts';
import { openDataSource } from '../src/storage/data-source.ts';
import { ChannelEntity, DeviceEntity, StreamEntity } from '../src/storage/entities.ts';
import { freshDatabase, type FreshDatabase } from './support/databases.ts';
import { download, ffprobeFrames } from './support/e2e-media.ts';

const SERVER_ID = '34020000002000000001';
const DEVICE = '34020000001320000077';
const PASSWORD = 'live-test-pw1';

let db: FreshDatabase;
let ds: DataSource;
let sip: SipServer;
let media: MediaEngine;
let sim: Simulator;
let calls: MediaCalls;
let manager: StreamManager;
let channelId: string;
let work: string;

async function until(what: () => boolean | Promise<boolean>, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const streamRow = (streamid: string) => ds.getRepository(StreamEntity).findOneByOrFail({ streamid });

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'gb-play-live-'));
  db = await freshDatabase('sqlite');
  ds = await openDataSource(db.config, { retryForMs: 0 });
  const now = Math.floor(Date.now() / 1000);
  await ds.getRepository(DeviceEntity).insert({ deviceid: DEVICE, name: 'cam', stream_mode: 'udp', password: PASSWORD, addtime: now, uptime: now });
  sip = await createSipServer({
    serverId: SERVER_ID,
    host: '127.0.0.1',
    port: 0,
    publicIp: '127.0.0.1',
    registerPolicy: 'known',
    keepaliveTimeoutS: 60,
    nonceSecret: 'play-live-test-secret',
    credentials: { lookup: async (id) => (id === DEVICE ? { deviceId: id, password: PASSWORD } : null) },
  });
  const base = 30000 + Math.floor(Math.random() * 100) * 100;
  media = await MediaEngine.create({ bindIp: '127.0.0.1', rtpPorts: [base, base + 49], httpPort: 0, rtmpPort: null, dataDir: work, idleTimeoutS: 3 });
  const file = await ensureFixture({ codec: 'h264', seconds: 4, fps: 25, gop: 25, width: 320, height: 240 });
  sim = await createSimulator({
    server: { host: '127.0.0.1', port: sip.port },
    serverId: SERVER_ID,
    firstId: DEVICE,
    password: PASSWORD,
    calls: (s) => (calls = createMediaCalls(s, { file, codec: 'h264' })),
  });
  await sim.start();
  await until(() => !!sip.device(DEVICE), 5000, 'registration');
  channelId = sim.devices[0]!.channels[0]!.channelId;
  await ds.getRepository(ChannelEntity).insert({ channelid: channelId, deviceid: DEVICE, name: 'cam', addtime: now, uptime: now });
  manager = new StreamManager({
    db: ds,
    sip,
    media,
    state: new MemoryState(),
    serverId: SERVER_ID,
    mediaIp: '127.0.0.1',
    nodeId: 'test',
    urls: { mediaPublicUrl: `http://127.0.0.1:${media.httpPort}`, rtmpPort: 1935 },
    playTimeoutS: 8,
  });
});

after(async () => {
  await manager?.close();
  await sim?.close();
  await media?.close();
  await sip?.close();
  await ds?.destroy();
  await db?.drop();
  rmSync(work, { recursive: true, force: true });
});

const setMode = (mode: string) => ds.getRepository(DeviceEntity).update({ deviceid: DEVICE }, { stream_mode: mode });

describe('StreamManager with sip-core, media and a simulated camera', { timeout: 120_000 }, () => {
  for (const mode of ['udp', 'tcp-passive', 'tcp-active'] as const) {
    test(`play() over ${mode} answers once media flows; the FLV URL carries H.264 frames; stop() BYEs`, async () => {
      await setMode(mode);
      const t0 = Date.now();
      const { streamid } = await manager.play(channelId, { replay: 0 });
      const ms = Date.now() - t0;
      const row = await streamRow(streamid);
      assert.equal(row.status, 'playing');
      assert.equal(row.transport, mode);
      const d = JSON.parse(row.diagnosis);
      assert.match(d.sdpOffer, mode === 'udp' ? /m=video \d+ RTP\/AVP 96/ : /m=video \d+ TCP\/RTP\/AVP 96/);
      assert.match(d.sdpAnswer, /y=\d{10}/);
      assert.ok(d.firstPacketFrom, 'first packet source recorded');
      const file = join(work, `${mode}.flv`);
      const watching = download(manager.urls(streamid).flv, file, 2500);
      await until(async () => (await streamRow(streamid)).viewers === 1, 2000, 'the viewer to be counted on the row');
      await watching;
      const flv = await ffprobeFrames(file);
      assert.equal(flv.codec, 'h264', flv.raw);
      assert.ok(flv.frames >= 30, `frames ${flv.frames}`);
      const ended = calls.stats().ended;
      await manager.stop(streamid, 'test');
      await until(() => calls.stats().ended === ended + 1, 5000, 'the device to see the BYE');
      assert.equal((await streamRow(streamid)).msg, 'test');
      console.log(`# ${mode}: play() ${ms} ms, ${flv.frames} FLV frames in 2.5 s`);
    });
  }

  test('concurrent live plays of one channel send one INVITE', async () => {
    await setMode('udp');
    const started = calls.stats().started;
    const all = await Promise.all([1, 2, 3, 4].map(() => manager.play(channelId, { replay: 0 })));
    assert.equal(new Set(all.map((s) => s.streamid)).size, 1);
    assert.equal(calls.stats().started, started + 1);
    await manager.stop(all[0]!.streamid, 'test');
  });

  test('a BYE from the device ends the stream with reason device-bye and no BYE back', async () => {
    const { streamid } = await manager.play(channelId, { replay: 0 });
    const st = JSON.parse((await streamRow(streamid)).dialog) as { callId: string; localTag: string; remoteTag: string };
    await calls.closeDevice(sim.devices[0]!); // the camera stops its sender; its BYE goes out below
    const bye = [
      `BYE sip:${SERVER_ID}@127.0.0.1:${sip.port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK${Date.now()};rport`,
      `From: <sip:${channelId}@3402000000>;tag=${st.remoteTag}`,
      `To: <sip:${SERVER_ID}@3402000000>;tag=${st.localTag}`,
      `Call-ID: ${st.callId}`,
      'CSeq: 20 BYE',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const sock = createSocket('udp4');
    const answer = new Promise<string>((resolve) => sock.once('message', (m) => resolve(m.toString())));
    sock.send(bye, sip.port, '127.0.0.1');
    assert.match(await answer, /^SIP\/2.0 200/);
    sock.close();
    await until(async () => (await streamRow(streamid)).status === 'closed', 5000, 'close');
    const row = await streamRow(streamid);
    assert.equal(row.msg, 'device-bye');
    assert.equal(JSON.parse(row.diagnosis).steps.some((s: { step: string }) => s.step === 'bye'), false, 'no BYE sent back');
  });

  test('a playback ends with a BYE after the device reports MediaStatus 121', async () => {
    const end = Math.floor(Date.now() / 1000) - 60;
    const ended = calls.stats().ended;
    const { streamid } = await manager.play(channelId, { replay: 1, start: end - 600, end });
    assert.match((await streamRow(streamid)).ssrc, /^1/);
    await until(async () => (await streamRow(streamid)).status === 'closed', 20_000, 'the end of the playback');
    assert.equal((await streamRow(streamid)).msg, 'playback-end');
    await until(() => calls.stats().ended === ended + 1, 5000, 'the BYE');
  });

  test('media that stops flowing ends the stream as media-idle with a BYE', async () => {
    const { streamid } = await manager.play(channelId, { replay: 0 });
    await calls.closeDevice(sim.devices[0]!); // the camera stops sending, the dialog stays
    await until(async () => (await streamRow(streamid)).status === 'closed', 10_000, 'the idle timeout');
    assert.equal((await streamRow(streamid)).msg, 'media-idle');
  });

  test('Records.query() merges the RecordInfo answers of the device', async () => {
    const records = new Records({ db: ds, sip, timeoutS: 5 });
    const end = Math.floor(Date.now() / 1000);
    const r = await records.query(channelId, end - 3 * 3600, end);
    assert.ok(r.items.length >= 5, `items ${r.items.length}`);
    assert.ok(r.timenum >= 5);
    assert.ok(r.list.every((d) => /^\d{4}-\d{2}-\d{2}$/.test(d.date)));
  });

  test('concurrent Records.query() calls with different ranges each get their own answer', async () => {
    const records = new Records({ db: ds, sip, timeoutS: 5 });
    const end = Math.floor(Date.now() / 1000);
    const ranges = [1, 2, 4, 6].map((h) => [end - h * 3600, end] as const);
    const results = await Promise.all(ranges.map(([a, b]) => records.query(channelId, a, b)));
    for (const [i, r] of results.entries()) {
      const [a, b] = ranges[i]!;
      assert.ok(r.items.length > 0);
      assert.ok(r.list.flatMap((d) => d.items).every((x) => x.start >= a && x.end <= b), `range ${i} clipped`);
    }
    assert.ok(results[3]!.items.length > results[0]!.items.length);
  });

  test('reconcileStreams() re-attaches a UDP stream whose camera kept sending through a restart', async () => {
    await setMode('udp');
    // The manager that "crashes": its dialogs go silent once crashed, as a killed process sends nothing.
    let crashed = false;
    const mute = (d: PlayDialog): PlayDialog => ({
      state: d.state,
      answer: d.answer,
      bye: async () => (crashed ? undefined : d.bye()),
      on: (e: 'bye', l: () => void) => d.on(e, l),
    });
    const doomed = new StreamManager({
      db: ds,
      sip: { device: (id) => sip.device(id), invite: async (o) => mute(await sip.invite(o)), restoreDialog: (st) => sip.restoreDialog(st), queryRecordInfo: sip.queryRecordInfo.bind(sip), on: () => undefined },
      media, state: new MemoryState(), serverId: SERVER_ID, mediaIp: '127.0.0.1', nodeId: 'test',
      urls: { mediaPublicUrl: `http://127.0.0.1:${media.httpPort}`, rtmpPort: 1935 },
    });
    const { streamid } = await doomed.play(channelId, { replay: 0 });
    const row = await streamRow(streamid);
    crashed = true;
    await media.stream(streamid)!.close('crash'); // the receive port dies with the process
    await until(async () => (await streamRow(streamid)).status === 'closed', 5000, 'the doomed manager to let go');
    await ds.getRepository(StreamEntity).update({ streamid }, { status: 'playing', msg: '' }); // as the crash left it
    const startedBefore = calls.stats().started;
    const fresh = new StreamManager({
      db: ds, sip, media, state: new MemoryState(), serverId: SERVER_ID, mediaIp: '127.0.0.1', nodeId: 'test',
      urls: { mediaPublicUrl: `http://127.0.0.1:${media.httpPort}`, rtmpPort: 1935 },
    });
    const result = await reconcileStreams({ db: ds, sip, media, manager: fresh, nodeId: 'test', waitMs: 3000 });
    assert.deepEqual(result.reattached, [streamid]);
    assert.equal(media.stream(streamid)!.port, row.port);
    assert.equal(calls.stats().started, startedBefore, 'no new INVITE');
    const file = join(work, 'reattached.flv');
    await download(fresh.urls(streamid).flv, file, 2000);
    assert.ok((await ffprobeFrames(file)).frames >= 20);
    const ended = calls.stats().ended;
    await fresh.stop(streamid, 'test');
    await until(() => calls.stats().ended === ended + 1, 5000, 'the BYE from the restored dialog');
  });

  test('a stream nobody watches is closed as no-viewers with a BYE', async () => {
    const base = 31000 + Math.floor(Math.random() * 100) * 100;
    const lonely = await MediaEngine.create({ bindIp: '127.0.0.1', rtpPorts: [base, base + 9], httpPort: media.httpPort, rtmpPort: null, dataDir: work, noViewerCloseS: 1 });
    try {
      const m = new StreamManager({
        db: ds, sip, media: lonely, state: new MemoryState(), serverId: SERVER_ID, mediaIp: '127.0.0.1', nodeId: 'test',
        urls: { mediaPublicUrl: `http://127.0.0.1:${media.httpPort}`, rtmpPort: 1935 },
      });
      const ended = calls.stats().ended;
      const { streamid } = await m.play(channelId, { replay: 0 });
      await until(async () => (await streamRow(streamid)).status === 'closed', 10_000, 'the no-viewer close');
      assert.equal((await streamRow(streamid)).msg, 'no-viewers');
      await until(() => calls.stats().ended === ended + 1, 5000, 'the BYE');
    } finally {
      await lonely.close();
    }
  });

  test('the device going offline (REGISTER Expires: 0) ends its streams with a BYE', async () => {
    const { streamid } = await manager.play(channelId, { replay: 0 });
    const ended = calls.stats().ended;
    await sim.devices[0]!.unregister();
    await until(async () => (await streamRow(streamid)).status === 'closed', 5000, 'the offline stop');
    assert.equal((await streamRow(streamid)).msg, 'device-offline');
    await until(() => calls.stats().ended === ended + 1, 5000, 'the BYE');
    await sim.devices[0]!.register();
    await until(() => !!sip.device(DEVICE), 5000, 're-registration');
  });

  test('an INVITE to a channel the device does not have fails at the invite step', async () => {
    const now = Math.floor(Date.now() / 1000);
    const ghost = `${DEVICE.slice(0, 10)}1319999999`;
    await ds.getRepository(ChannelEntity).insert({ channelid: ghost, deviceid: DEVICE, name: 'ghost', addtime: now, uptime: now });
    await assert.rejects(manager.play(ghost, { replay: 0 }), (e: PlayError) => e.step === 'invite' && /404/.test(e.message));
    const row = await ds.getRepository(StreamEntity).findOneByOrFail({ channelid: ghost });
    assert.equal(row.status, 'failed');
  });
});
