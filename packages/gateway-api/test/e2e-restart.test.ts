// kill -9 with 20 live streams open, restart on the same data and ports: every stream row must end
// up re-attached (its port re-opened and the device still sending) or closed with a BYE the
// device saw, within 10 s of the restarted gateway answering.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSimulator, deviceIdAt, type Simulator } from '@gb28181/gb-sim';
import { createMediaCalls, type MediaCalls } from '../../gb-sim/src/media-calls.ts';
import { ensureFixture } from '../../media/test/support/fixtures.ts';
import { missingWiring, portsOf, removeDataDir, startGateway, type GatewayProcess } from './support/e2e-gateway.ts';

const PASSWORD = 'restart-pass-1';
const DEVICES = 20;
const FIRST_ID = '34020000001320000101';

let gw: GatewayProcess | undefined;
let restarted: GatewayProcess | undefined;
let sim: Simulator | undefined;

after(async () => {
  await sim?.close().catch(() => undefined);
  await restarted?.stop();
  await gw?.stop();
  if (gw) removeDataDir(gw);
});

interface Row {
  streamid: string;
  status: string;
  msg: string;
  transport?: string;
  live?: { packets?: number };
}

test('after kill -9 every stream is re-attached or ended with a BYE within 10 s', { timeout: 180_000 }, async (t) => {
  const first = await startGateway({ env: { GB_PLAY_TIMEOUT_S: '15' } });
  gw = first;
  const notWired = await missingWiring(first);
  if (notWired) return t.skip(notWired);
  const ids = Array.from({ length: DEVICES }, (_, i) => deviceIdAt(FIRST_ID, i));
  for (const [i, deviceid] of ids.entries()) {
    const r = await first.request('POST', '/devices', { deviceid, pwd: PASSWORD, name: `restart ${i}` });
    assert.equal(r.status, 201, JSON.stringify(r));
    // Half the cameras send over UDP (they keep sending through a crash), half over TCP (the
    // connection dies with the process).
    const mode = i % 2 === 0 ? 'udp' : 'tcp-passive';
    assert.equal((await first.request('POST', `/devices/${deviceid}`, { stream_mode: mode })).status, 200);
  }
  const file = await ensureFixture({ codec: 'h264', seconds: 4, fps: 25, gop: 25, width: 320, height: 240 });
  let calls!: MediaCalls;
  sim = await createSimulator({
    server: { host: '127.0.0.1', port: gw.sipPort },
    firstId: FIRST_ID,
    devices: DEVICES,
    password: PASSWORD,
    keepaliveS: 20,
    calls: (s) => (calls = createMediaCalls(s, { file, codec: 'h264', fps: 10 })),
  });
  await sim.start();

  const channels: string[] = [];
  const deadline = Date.now() + 30_000;
  while (channels.length < DEVICES && Date.now() < deadline) {
    const r = await gw.request<{ total: number; list: { channelid: string; deviceid: string }[] }>('GET', '/channels?limit=1000');
    if (r.data.total >= DEVICES) channels.push(...r.data.list.filter((c) => ids.includes(c.deviceid)).map((c) => c.channelid));
    else await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(channels.length, DEVICES, 'every simulated camera synced its catalog');

  const streamIds: string[] = [];
  for (let i = 0; i < DEVICES; i += 5) {
    const batch = await Promise.all(channels.slice(i, i + 5).map((ch) => gw!.request<Row>('POST', `/channels/${ch}/streams`, { replay: 0 })));
    for (const b of batch) {
      assert.equal(b.status, 200, JSON.stringify(b));
      streamIds.push(b.data.streamid);
    }
  }
  assert.equal(calls.stats().active, DEVICES);
  const endedBeforeCrash = calls.stats().ended;

  await gw.crash();
  const t0 = Date.now();
  restarted = await startGateway({ dataDir: gw.dataDir, ports: portsOf(gw), env: { GB_PLAY_TIMEOUT_S: '15' } });
  const upAfterMs = Date.now() - t0;

  const settled = (r: Row) => r.status === 'closed' || r.status === 'failed' || (r.status === 'playing' && /reattached/.test(r.msg));
  let rows: Row[] = [];
  const settleDeadline = Date.now() + 10_000;
  for (;;) {
    rows = await Promise.all(streamIds.map(async (id) => (await restarted!.request<Row>('GET', `/streams/${id}`)).data));
    if (rows.every(settled) || Date.now() > settleDeadline) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  const settledAfterMs = Date.now() - t0;
  const unsettled = rows.filter((r) => !settled(r));
  assert.deepEqual(unsettled, [], 'no stream left orphaned');

  const reattached = rows.filter((r) => r.status === 'playing');
  const closed = rows.filter((r) => r.status !== 'playing');
  // Every closed stream was hung up: the devices saw one BYE each.
  const byeDeadline = Date.now() + 5000;
  while (calls.stats().ended - endedBeforeCrash < closed.length && Date.now() < byeDeadline) await new Promise((res) => setTimeout(res, 100));
  assert.equal(calls.stats().ended - endedBeforeCrash, closed.length, 'a BYE reached the device of every closed stream');
  assert.equal(calls.stats().active, reattached.length, 'the devices of re-attached streams are still sending');
  assert.ok(reattached.every((r) => r.transport === 'udp'), 'only UDP streams survive a crash');
  assert.equal(reattached.length, DEVICES / 2, 'every UDP stream was re-attached');

  // A re-attached stream is live again: its packets keep counting.
  const one = reattached[0]!;
  const p1 = (await restarted.request<Row>('GET', `/streams/${one.streamid}`)).data.live?.packets ?? 0;
  await new Promise((res) => setTimeout(res, 1000));
  const p2 = (await restarted.request<Row>('GET', `/streams/${one.streamid}`)).data.live?.packets ?? 0;
  assert.ok(p2 > p1, `packets ${p1} -> ${p2}`);
  console.log(`# restart: up after ${upAfterMs} ms, all ${DEVICES} streams settled after ${settledAfterMs} ms: ${reattached.length} re-attached, ${closed.length} closed with BYE`);
});
