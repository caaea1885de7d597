import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DataSource, Repository } from 'typeorm';
import { EventBus, type PlatformEvent } from '../src/events/event-bus.ts';
import { PlayError } from '../src/play/play-errors.ts';
import { reconcileStreams } from '../src/play/reconcile.ts';
import { Records } from '../src/play/records.ts';
import { StreamManager } from '../src/play/stream-manager.ts';
import { randomBytes } from 'node:crypto';
import type { PlaySharedState } from '../src/play/play-dependencies.ts';
import { MemoryState } from '../src/state/memory-state.ts';
import { createSharedState } from '../src/state/shared-state.ts';
import { openDataSource } from '../src/storage/data-source.ts';
import { ChannelEntity, DeviceEntity, StreamEntity, type StreamRow } from '../src/storage/entities.ts';
import { freshDatabase, serviceUrl, type FreshDatabase } from './support/databases.ts';
import { DoubleMedia, DoubleSip } from './support/play-doubles.ts';

const DEVICE = '34020000001320000001';
const CHANNEL = '34020000001310000001';
const NVR = '34020000001180000001';
const NVR_CH = '34020000001310000002';

let db: FreshDatabase;
let ds: DataSource;
let streams: Repository<StreamRow>;
let sip: DoubleSip;
let media: DoubleMedia;
let state: MemoryState;
let events: PlatformEvent[];
let manager: StreamManager;

function makeManager(o: { playTimeoutS?: number; nodeId?: string; state?: PlaySharedState } = {}): StreamManager {
  const bus = new EventBus();
  bus.subscribe((e) => events.push(e));
  return new StreamManager({
    db: ds,
    sip,
    media,
    state: o.state ?? state,
    serverId: '34020000002000000001',
    mediaIp: '127.0.0.1',
    nodeId: o.nodeId ?? 'node-a',
    urls: { mediaPublicUrl: 'http://127.0.0.1:8000', rtmpPort: 1935 },
    playTimeoutS: o.playTimeoutS ?? 2,
    byeWaitMs: 500,
    events: bus,
  });
}

const row = (streamid: string) => streams.findOneByOrFail({ streamid });
const until = async (what: () => boolean | Promise<boolean>, ms = 3000) => {
  const deadline = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

before(async () => {
  db = await freshDatabase('sqlite');
  ds = await openDataSource(db.config, { retryForMs: 0 });
  streams = ds.getRepository(StreamEntity);
  const now = Math.floor(Date.now() / 1000);
  await ds.getRepository(DeviceEntity).insert([
    { deviceid: DEVICE, name: 'ipc', stream_mode: 'udp', password: 'x', addtime: now, uptime: now },
    { deviceid: NVR, name: 'nvr', stream_mode: 'tcp-active', password: 'x', addtime: now, uptime: now },
  ]);
  await ds.getRepository(ChannelEntity).insert([
    { channelid: CHANNEL, deviceid: DEVICE, name: 'cam', addtime: now, uptime: now },
    { channelid: NVR_CH, deviceid: NVR, name: 'nvr cam', addtime: now, uptime: now },
  ]);
});

after(async () => {
  await ds.destroy();
  await db.drop();
});

beforeEach(async () => {
  await streams.clear();
  sip = new DoubleSip();
  sip.online.add(DEVICE).add(NVR);
  media = new DoubleMedia();
  state = new MemoryState();
  events = [];
  manager = makeManager();
});

describe('StreamManager.play() live', () => {
  test('allocates a live SSRC, opens a port for the device stream mode, INVITEs and stores the playing stream', async () => {
    const { streamid } = await manager.play(CHANNEL, { replay: 0 });
    assert.equal(sip.invites.length, 1);
    const inv = sip.invites[0]!;
    assert.equal(inv.kind, 'Play');
    assert.match(inv.ssrc, /^0200000\d{3}$/);
    assert.equal(inv.transport, 'udp');
    assert.equal(inv.deviceId, DEVICE);
    assert.equal(inv.mediaPort, media.opened[0]!.port);
    assert.equal(streamid, Number(inv.ssrc).toString(16).toUpperCase().padStart(8, '0'));
    const r = await row(streamid);
    assert.equal(r.status, 'playing');
    assert.equal(r.port, inv.mediaPort);
    assert.equal(JSON.parse(r.dialog).callId, 'call-1');
    const d = JSON.parse(r.diagnosis);
    assert.match(d.sdpOffer, /y=/);
    assert.equal(d.port, inv.mediaPort);
    assert.ok(d.firstPacketAt > 0);
    assert.deepEqual(events.map((e) => e.method), ['streams.start']);
    assert.deepEqual(manager.urls(streamid), {
      rtmp: `rtmp://127.0.0.1:1935/rtp/${streamid}`,
      flv: `http://127.0.0.1:8000/rtp/${streamid}.flv`,
      wsflv: `ws://127.0.0.1:8000/rtp/${streamid}.flv`,
      http: `http://127.0.0.1:8000/rtp/${streamid}/hls.m3u8`,
    });
  });

  test('concurrent first calls for one channel send one INVITE and share the stream', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, () => manager.play(CHANNEL, { replay: 0 })));
    assert.equal(sip.invites.length, 1);
    assert.equal(new Set(all.map((s) => s.streamid)).size, 1);
  });

  test('a second call returns the same live stream while it is alive, and a new one once its media is gone', async () => {
    const a = await manager.play(CHANNEL, { replay: 0 });
    const b = await manager.play(CHANNEL, { replay: 0 });
    assert.equal(a.streamid, b.streamid);
    media.streams.delete(a.streamid); // the receiver vanished without telling us
    const c = await manager.play(CHANNEL, { replay: 0 });
    assert.notEqual(c.streamid, a.streamid);
    assert.equal(sip.invites.length, 2);
    assert.equal((await row(a.streamid)).status, 'closed');
  });

  test('a tcp-active device gets connected to at the address of its answer', async () => {
    await manager.play(NVR_CH, { replay: 0 });
    assert.equal(sip.invites[0]!.transport, 'tcp-active');
    assert.equal(media.opened[0]!.connectedTo, '127.0.0.1:40000');
  });

  test('another node opening the same channel is waited for instead of sending a second INVITE', async () => {
    const other = makeManager({ nodeId: 'node-b' });
    const [a, b] = await Promise.all([manager.play(CHANNEL, { replay: 0 }), other.play(CHANNEL, { replay: 0 })]);
    assert.equal(a.streamid, b.streamid);
    assert.equal(sip.invites.length, 1);
  });

  const redisUrl = serviceUrl('GB_TEST_REDIS_URL');
  test('two nodes sharing Redis and the database send one INVITE for a channel opened on both at once', { skip: redisUrl ? false : 'GB_TEST_REDIS_URL not set' }, async () => {
    const keyPrefix = `gbt:${process.pid}:${randomBytes(3).toString('hex')}:`;
    const [ra, rb] = [await createSharedState({ redisUrl, keyPrefix }), await createSharedState({ redisUrl, keyPrefix })];
    try {
      const a = makeManager({ nodeId: 'node-a', state: ra });
      const b = makeManager({ nodeId: 'node-b', state: rb });
      const got = await Promise.all([a.play(CHANNEL, { replay: 0 }), b.play(CHANNEL, { replay: 0 }), b.play(CHANNEL, { replay: 0 })]);
      assert.equal(new Set(got.map((g) => g.streamid)).size, 1);
      assert.equal(sip.invites.length, 1);
    } finally {
      await ra.close();
      await rb.close();
    }
  });

  test('rejects with a 404 PlayError for an unknown channel and 409 for an offline device', async () => {
    await assert.rejects(manager.play('34020000001319999999', { replay: 0 }), (e: PlayError) => e.status === 404);
    sip.online.delete(DEVICE);
    await assert.rejects(manager.play(CHANNEL, { replay: 0 }), (e: PlayError) => e.status === 409 && /offline/.test(e.message));
    assert.equal(sip.invites.length, 0);
  });
});

describe('StreamManager failed plays', () => {
  test('an INVITE answered 486 fails with the SIP status, closes the port and marks the row failed', async () => {
    sip.behaviour = { status: 486 };
    await assert.rejects(manager.play(CHANNEL, { replay: 0 }), (e: PlayError) => {
      assert.equal(e.status, 502);
      assert.equal(e.step, 'invite');
      assert.match(e.message, /486/);
      return true;
    });
    const r = (await streams.find())[0]!;
    assert.equal(r.status, 'failed');
    assert.match(r.msg, /486/);
    assert.equal(JSON.parse(r.diagnosis).failedStep, 'invite');
    assert.equal(media.opened[0]!.closedWith?.startsWith('failed'), true);
    assert.equal(media.streams.size, 0);
  });

  test('an INVITE that times out says so', async () => {
    sip.behaviour = 'hang';
    await assert.rejects(manager.play(CHANNEL, { replay: 0 }), /timeout waiting for the device to answer the INVITE/);
  });

  test('no media within the play timeout fails at the media step and hangs up with a BYE', async () => {
    media.onOpen = () => {};
    manager = makeManager({ playTimeoutS: 1 });
    await assert.rejects(manager.play(CHANNEL, { replay: 0 }), (e: PlayError) => e.step === 'media' && /no media within 1 s/.test(e.message));
    assert.deepEqual(sip.log, ['BYE call-1']);
    const r = (await streams.find())[0]!;
    assert.equal(r.status, 'failed');
    assert.equal(JSON.parse(r.diagnosis).failedStep, 'media');
  });

  test('media without a key frame is answered once the wait is over', async () => {
    media.onOpen = (s) => setTimeout(() => s.deliver(false), 20);
    manager = makeManager({ playTimeoutS: 1 });
    const { streamid } = await manager.play(CHANNEL, { replay: 0 });
    assert.equal((await row(streamid)).status, 'playing');
  });
});

describe('StreamManager stop paths', () => {
  test('stop() sends a BYE, closes the media and records the reason', async () => {
    const { streamid } = await manager.play(CHANNEL, { replay: 0 });
    await manager.stop(streamid, 'api');
    assert.deepEqual(sip.log, ['BYE call-1']);
    assert.equal(media.opened[0]!.closedWith, 'api');
    const r = await row(streamid);
    assert.equal(r.status, 'closed');
    assert.equal(r.msg, 'api');
    assert.equal(r.stream, false);
    assert.deepEqual(events.map((e) => e.method), ['streams.start', 'streams.stop']);
    await manager.stop(streamid, 'again'); // idempotent
    assert.equal(sip.log.length, 1);
  });

  test('a BYE from the device closes the media without answering with a BYE', async () => {
    const { streamid } = await manager.play(CHANNEL, { replay: 0 });
    sip.emit('bye', { callId: 'call-1' });
    await until(async () => (await row(streamid)).status === 'closed');
    assert.equal((await row(streamid)).msg, 'device-bye');
    assert.deepEqual(sip.log, []);
    assert.equal(media.opened[0]!.closedWith, 'device-bye');
  });

  for (const [event, payload, reason] of [
    ['timeout', { reason: 'idle' }, 'media-idle'],
    ['noViewers', undefined, 'no-viewers'],
  ] as const) {
    test(`media "${event}" ends the dialog with a BYE and records "${reason}"`, async () => {
      const { streamid } = await manager.play(CHANNEL, { replay: 0 });
      media.opened[0]!.emit(event, payload);
      await until(async () => (await row(streamid)).status === 'closed');
      assert.equal((await row(streamid)).msg, reason);
      assert.deepEqual(sip.log, ['BYE call-1']);
    });
  }

  test('the device going offline ends all its streams', async () => {
    const live = await manager.play(CHANNEL, { replay: 0 });
    const pb = await manager.play(CHANNEL, { replay: 1, start: 1700000000, end: 1700000600 });
    sip.emit('offline', { deviceId: DEVICE, reason: 'keepalive-timeout' });
    await until(async () => (await streams.count({ where: { status: 'closed', msg: 'device-offline' } })) === 2);
    assert.equal(manager.openStreams().length, 0);
    assert.ok((await row(live.streamid)) && (await row(pb.streamid)));
  });

  test('a stop during the INVITE hangs up as soon as the dialog exists', async () => {
    sip.inviteDelayMs = 200;
    const p = manager.play(CHANNEL, { replay: 0 });
    await until(() => sip.invites.length === 1);
    const id = manager.openStreams()[0]!;
    await Promise.all([manager.stop(id, 'api'), assert.rejects(p, PlayError)]);
    assert.equal((await row(id)).msg, 'api');
    assert.equal(media.streams.size, 0);
    assert.deepEqual(sip.log, ['BYE call-1']);
  });
});

describe('StreamManager playback', () => {
  test('each playback call is a new history stream with its time range', async () => {
    const a = await manager.play(CHANNEL, { replay: 1, start: 1700000000, end: 1700000600 });
    const b = await manager.play(CHANNEL, { replay: 1, start: 1700000000, end: 1700000600 });
    assert.notEqual(a.streamid, b.streamid);
    assert.equal(sip.invites[0]!.kind, 'Playback');
    assert.equal(sip.invites[0]!.start, 1700000000);
    assert.equal(sip.invites[0]!.end, 1700000600);
    assert.match(sip.invites[0]!.ssrc, /^1/);
    const r = await row(a.streamid);
    assert.equal(r.t, 1);
    assert.equal(r.start, 1700000000);
  });

  test('MediaStatus 121 ends the playback with a BYE', async () => {
    const { streamid } = await manager.play(CHANNEL, { replay: 1, start: 1700000000, end: 1700000600 });
    const live = await manager.play(CHANNEL, { replay: 0 });
    sip.emit('mediaStatus', { deviceId: DEVICE, notifyType: '121' });
    await until(async () => (await row(streamid)).status === 'closed');
    assert.equal((await row(streamid)).msg, 'playback-end');
    assert.deepEqual(sip.log, ['BYE call-1']);
    assert.equal((await row(live.streamid)).status, 'playing');
  });

  test('playback without a valid range is a 400', async () => {
    await assert.rejects(manager.play(CHANNEL, { replay: 1, start: 10 }), (e: PlayError) => e.status === 400);
  });
});

describe('reconcileStreams after a restart', () => {
  test('re-attaches streams whose device still sends and BYEs the rest from the saved dialog', async () => {
    const a = await manager.play(CHANNEL, { replay: 0 });
    const b = await manager.play(CHANNEL, { replay: 1, start: 1700000000, end: 1700000600 });
    const portA = (await row(a.streamid)).port;
    // The process dies: nothing is closed, the rows still say playing.
    media = new DoubleMedia();
    media.onOpen = (s) => {
      if (s.streamId === a.streamid) setTimeout(() => s.deliver(), 50);
    };
    sip = new DoubleSip();
    sip.online.add(DEVICE);
    const restarted = makeManager();
    const t0 = Date.now();
    const result = await reconcileStreams({ db: ds, sip, media, manager: restarted, nodeId: 'node-a', waitMs: 1000 });
    assert.ok(Date.now() - t0 < 3000);
    assert.deepEqual(result.reattached, [a.streamid]);
    assert.deepEqual(result.closed, [b.streamid]);
    assert.equal(media.opened.find((s) => s.streamId === a.streamid)!.port, portA);
    assert.equal((await row(a.streamid)).status, 'playing');
    const rb = await row(b.streamid);
    assert.equal(rb.status, 'closed');
    assert.equal(rb.msg, 'restart');
    assert.deepEqual([...sip.log].sort(), ['BYE call-2', 'restore call-1', 'restore call-2']);
    // the adopted stream is fully managed again: a stop hangs up its restored dialog
    await restarted.stop(a.streamid, 'api');
    assert.deepEqual(sip.log.slice(3), ['BYE call-1']);
    assert.equal((await row(a.streamid)).status, 'closed');
  });
});

describe('reconcileStreams node ownership', () => {
  test('leaves rows of other nodes alone, unless this is the only node (a recreated container has a new hostname)', async () => {
    const other = makeManager({ nodeId: 'old-container:5060' });
    const { streamid } = await other.play(CHANNEL, { replay: 0 });
    media = new DoubleMedia();
    media.onOpen = () => {};
    const fresh = makeManager({ nodeId: 'new-container:5060' });
    const shared = await reconcileStreams({ db: ds, sip, media, manager: fresh, nodeId: 'new-container:5060', waitMs: 200 });
    assert.deepEqual(shared, { reattached: [], closed: [] });
    assert.equal((await row(streamid)).status, 'playing');
    const alone = await reconcileStreams({ db: ds, sip, media, manager: fresh, nodeId: 'new-container:5060', waitMs: 200, singleNode: true });
    assert.deepEqual(alone.closed, [streamid]);
    assert.equal((await row(streamid)).msg, 'restart');
  });
});

describe('Records', () => {
  test('query() merges the device answer into a day timeline and shares concurrent identical queries', async () => {
    sip.records = [
      { DeviceID: CHANNEL, StartTime: '2026-03-01T10:00:00', EndTime: '2026-03-01T10:10:00' },
      { DeviceID: CHANNEL, StartTime: '2026-03-01T10:05:00', EndTime: '2026-03-01T10:20:00' },
    ];
    const rec = new Records({ db: ds, sip, timeoutS: 2 });
    const start = Math.floor(new Date(2026, 2, 1).getTime() / 1000);
    const [r1, r2] = await Promise.all([rec.query(CHANNEL, start, start + 86400), rec.query(CHANNEL, start, start + 86400)]);
    assert.equal(sip.recordQueries, 1);
    assert.deepEqual(r1, r2);
    assert.equal(r1.daynum, 1);
    assert.equal(r1.timenum, 1);
    assert.equal(r1.list[0]!.items[0]!.end - r1.list[0]!.items[0]!.start, 1200);
    assert.equal(r1.items.length, 2);
  });
});
