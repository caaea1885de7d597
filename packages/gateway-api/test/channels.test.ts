// Channels, streams and records routes. PlayService and RecordService here are small real
// implementations over the same database / a fixed list: this file checks the HTTP layer's shape;
// the play engineer's e2e tests cover real SIP and media behind the same interfaces.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DataSource } from 'typeorm';
import { PlayError } from '../src/play/play-errors.ts';
import type { PlayRequest, PlayService, RecordService, RecordsResult } from '../src/services.ts';
import { ChannelEntity, DeviceEntity, StreamEntity } from '../src/storage/entities.ts';
import { forEachDatabase } from './support/databases.ts';
import { qs, startApi, type ApiUnderTest } from './support/api-server.ts';

class TablePlayService implements PlayService {
  calls: { channelId: string; req: PlayRequest }[] = [];
  stops: [string, string][] = [];
  failWith: unknown;
  private seq = 0;
  constructor(private readonly ds: DataSource) {}
  async play(channelId: string, req: PlayRequest): Promise<{ streamid: string }> {
    this.calls.push({ channelId, req });
    if (this.failWith) throw this.failWith;
    const repo = this.ds.getRepository(StreamEntity);
    if (req.replay === 0) {
      const live = await repo.findOneBy({ channelid: channelId, t: 0, status: 'playing' });
      if (live) return { streamid: live.streamid };
    }
    const ssrc = `${req.replay}${String(200000000 + ++this.seq)}`;
    const streamid = Number(ssrc).toString(16).toUpperCase();
    const channel = await this.ds.getRepository(ChannelEntity).findOneByOrFail({ channelid: channelId });
    await repo.insert({ streamid, ssrc, t: req.replay, deviceid: channel.deviceid, channelid: channelId, status: 'playing', stream: true, start: req.start ?? 0, end: req.end ?? 0, addtime: 1_700_000_000 + this.seq });
    return { streamid };
  }
  async stop(streamId: string, reason: string): Promise<void> {
    this.stops.push([streamId, reason]);
    await this.ds.getRepository(StreamEntity).update({ streamid: streamId }, { status: 'closed', msg: reason, stream: false });
  }
  async stopDevice(): Promise<void> {}
  urls(id: string) {
    return { rtmp: `rtmp://h:1935/rtp/${id}`, flv: `http://h:8000/rtp/${id}.flv`, wsflv: `ws://h:8000/rtp/${id}.flv`, http: `http://h:8000/rtp/${id}/hls.m3u8` };
  }
  liveStats(id: string) {
    return { packets: 10, viewers: 1, id };
  }
}

class FixedRecords implements RecordService {
  queries: [string, number, number][] = [];
  async query(channelId: string, start: number, end: number): Promise<RecordsResult> {
    this.queries.push([channelId, start, end]);
    const item = { deviceid: channelId, name: 'rec', filepath: '/a', address: '', start: start + 10, end: start + 70, secrecy: 0, type: 'time', recorderid: '', filesize: 1024 };
    return { daynum: 1, timenum: 60, list: [{ date: '2023-11-14', items: [{ start: item.start, end: item.end }] }], items: [item] };
  }
}

const DEV = '34020000001320000001';

forEachDatabase((dbName, makeDataSource) => {
  describe(`channels, streams and records API on ${dbName}`, () => {
    let api: ApiUnderTest;
    let bare: ApiUnderTest;
    let play: TablePlayService;
    const records = new FixedRecords();
    let chA: string;
    before(async () => {
      const ds = await makeDataSource();
      await ds.getRepository(DeviceEntity).insert({ deviceid: DEV, name: 'nvr', password: 'x', online: true });
      play = new TablePlayService(ds);
      api = await startApi(ds, { play, records });
      bare = await startApi(ds);
    });
    after(() => Promise.all([api.close(), bare.close()]));

    test('POST /devices/:id/channels pre-registers channels with ids under the device domain', async () => {
      const a = await api.request('POST', `/devices/${DEV}/channels`, { json: { memo: 'door', name: 'front' } });
      assert.equal(a.status, 201, a.text);
      assert.match(a.body.data.channelid, /^34020000001310\d{6}$/);
      assert.equal(a.body.data.deviceid, DEV);
      assert.equal(a.body.data.memo, 'door');
      assert.equal(a.body.data.streamtype, 'push');
      chA = a.body.data.channelid;
      const b = await api.request('POST', `/devices/${DEV}/channels`, { form: { streamtype: 'pull', url: 'rtsp://10.0.0.5/main' } });
      assert.equal(b.status, 201, b.text);
      assert.equal(b.body.data.url, 'rtsp://10.0.0.5/main');
      assert.notEqual(b.body.data.channelid, chA);
      assert.equal((await api.request('GET', `/devices/${DEV}`)).body.data.channels, 2);
    });

    test('POST /devices/:id/channels validates streamtype and url and needs an existing device', async () => {
      const noUrl = await api.request('POST', `/devices/${DEV}/channels`, { json: { streamtype: 'pull' } });
      assert.equal(noUrl.status, 400);
      assert.equal(noUrl.body.data, 'body.url is required when streamtype is pull');
      const badType = await api.request('POST', `/devices/${DEV}/channels`, { json: { streamtype: 'udp' } });
      assert.equal(badType.status, 400);
      assert.match(badType.body.data, /^body\.streamtype/);
      const badUrl = await api.request('POST', `/devices/${DEV}/channels`, { json: { streamtype: 'pull', url: 'javascript:alert(1)' } });
      assert.equal(badUrl.status, 400);
      assert.match(badUrl.body.data, /^body\.url: expected an rtsp/);
      const noDevice = await api.request('POST', '/devices/34020000001329999999/channels', { json: {} });
      assert.equal(noDevice.status, 404);
    });

    test('GET /channels, /devices/:id/channels and /channels/:id list and read channels', async () => {
      const all = await api.request('GET', '/channels');
      assert.equal(all.body.data.total, 2);
      const mine = await api.request('GET', `/devices/${DEV}/channels` + qs({ filters: [{ field_name: 'streamtype', opertator: '=', value: 'pull' }] }));
      assert.equal(mine.body.data.total, 1);
      const one = await api.request('GET', `/channels/${chA}`);
      assert.equal(one.body.data.name, 'front');
      assert.equal((await api.request('GET', '/channels/34020000001310999999')).status, 404);
      assert.equal((await api.request('GET', '/devices/34020000001329999999/channels')).status, 404);
    });

    test('POST /channels/:id edits memo, streamtype and url', async () => {
      const res = await api.request('POST', `/channels/${chA}`, { form: { memo: 'back door', streamtype: 'pull', url: 'rtmp://10.0.0.9/live/x' } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual([res.body.data.memo, res.body.data.streamtype, res.body.data.url], ['back door', 'pull', 'rtmp://10.0.0.9/live/x']);
      const clear = await api.request('POST', `/channels/${chA}`, { json: { url: '' } });
      assert.equal(clear.status, 400, 'a pull channel keeps its url');
      const back = await api.request('POST', `/channels/${chA}`, { json: { streamtype: 'push', url: '' } });
      assert.equal(back.body.data.streamtype, 'push');
    });

    test('POST /channels/:id/streams starts live once per channel and returns play URLs', async () => {
      const first = await api.request('POST', `/channels/${chA}/streams`, { json: { replay: 0 } });
      assert.equal(first.status, 200, first.text);
      const s = first.body.data;
      assert.equal(s.t, 0);
      assert.equal(s.channelid, chA);
      assert.equal(s.flv, `http://h:8000/rtp/${s.streamid}.flv`);
      assert.equal(s.http, `http://h:8000/rtp/${s.streamid}/hls.m3u8`);
      assert.equal(s.rtmp, `rtmp://h:1935/rtp/${s.streamid}`);
      assert.equal(s.wsflv, `ws://h:8000/rtp/${s.streamid}.flv`);
      assert.equal(s.live.packets, 10);
      const again = await api.request('POST', `/channels/${chA}/streams`, { form: { replay: '0' } });
      assert.equal(again.body.data.streamid, s.streamid);
    });

    test('POST /channels/:id/streams plays back [start, end] and validates the range', async () => {
      const pb = await api.request('POST', `/channels/${chA}/streams`, { form: { replay: '1', start: '1700000000', end: '1700003600' } });
      assert.equal(pb.status, 200, pb.text);
      assert.equal(pb.body.data.t, 1);
      assert.deepEqual(play.calls.at(-1), { channelId: chA, req: { replay: 1, start: 1_700_000_000, end: 1_700_003_600 } });
      const missing = await api.request('POST', `/channels/${chA}/streams`, { json: { replay: 1 } });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.data, 'body.start and body.end are required for playback');
      const reversed = await api.request('POST', `/channels/${chA}/streams`, { json: { replay: 1, start: 10, end: 5 } });
      assert.equal(reversed.status, 400);
      const badReplay = await api.request('POST', `/channels/${chA}/streams`, { json: { replay: 2 } });
      assert.equal(badReplay.status, 400);
      assert.match(badReplay.body.data, /^body\.replay/);
    });

    test('a failed play says what failed with the right status', async () => {
      play.failWith = new PlayError('no media within 10 s', { status: 504, step: 'media' });
      const timeout = await api.request('POST', `/channels/${chA}/streams`, { json: { replay: 1, start: 1, end: 2 } });
      assert.deepEqual([timeout.status, timeout.body.code, timeout.body.data], [504, '1002', 'no media within 10 s']);
      play.failWith = Object.assign(new Error('SIP/2.0 486 Busy Here'), { name: 'SipResponseError', status: 486 });
      const busy = await api.request('POST', `/channels/${chA}/streams`, { json: { replay: 1, start: 1, end: 2 } });
      assert.deepEqual([busy.status, busy.body.data], [502, 'play failed: the device answered 486']);
      play.failWith = undefined;
      const noPlay = await bare.request('POST', `/channels/${chA}/streams`, { json: {} });
      assert.deepEqual([noPlay.status, noPlay.body.code], [503, '1003']);
    });

    test('GET /streams lists streams with URLs, GET /streams/:id reads one, DELETE stops it', async () => {
      const list = await api.request('GET', '/streams' + qs({ filters: [{ field_name: 't', opertator: '=', value: 0 }] }));
      assert.equal(list.body.data.total, 1);
      const s = list.body.data.list[0];
      assert.equal(s.flv, `http://h:8000/rtp/${s.streamid}.flv`);
      assert.ok(!('dialog' in s) && !('node' in s), 'internal columns stay internal');
      const one = await api.request('GET', `/streams/${s.streamid}`);
      assert.equal(one.body.data.status, 'playing');
      const del = await api.request('DELETE', `/streams/${s.streamid}`);
      assert.equal(del.status, 200, del.text);
      assert.deepEqual(play.stops.at(-1), [s.streamid, 'stopped through the API']);
      assert.equal((await api.request('GET', `/streams/${s.streamid}`)).body.data.status, 'closed');
      assert.equal((await api.request('DELETE', '/streams/FFFF0000')).status, 404);
      assert.equal((await api.request('GET', '/streams/not-hex')).status, 400);
    });

    test('GET /channels/:id/records and /records?channelid= return the merged records', async () => {
      const res = await api.request('GET', `/channels/${chA}/records?start=1700000000&end=1700086400`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.data.daynum, 1);
      assert.deepEqual(res.body.data.list, [{ date: '2023-11-14', items: [{ start: 1_700_000_010, end: 1_700_000_070 }] }]);
      assert.equal(res.body.data.items[0].filesize, 1024);
      const gosip = await api.request('GET', `/records?channelid=${chA}&start=1700000000&end=1700086400`);
      assert.deepEqual(gosip.body.data, res.body.data);
      assert.deepEqual(records.queries.at(-1), [chA, 1_700_000_000, 1_700_086_400]);
      assert.equal((await api.request('GET', `/channels/${chA}/records?start=5&end=1`)).status, 400);
      assert.equal((await api.request('GET', `/channels/${chA}/records?start=0&end=99999999`)).body.data, 'query.start..end spans more than 31 days');
      assert.match((await api.request('GET', `/channels/${chA}/records?start=x&end=1`)).body.data, /^query\.start/);
      assert.equal((await api.request('GET', '/channels/34020000001310999999/records?start=1&end=2')).status, 404);
      assert.equal((await bare.request('GET', `/channels/${chA}/records?start=1&end=2`)).status, 503);
    });

    test('DELETE /channels/:id removes the channel and updates the device count', async () => {
      const res = await api.request('DELETE', `/channels/${chA}`);
      assert.equal(res.status, 200);
      assert.equal((await api.request('GET', `/channels/${chA}`)).status, 404);
      assert.equal((await api.request('GET', `/devices/${DEV}`)).body.data.channels, 1);
    });
  });
});
