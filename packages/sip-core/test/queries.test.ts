import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDevice, bodyText, xmlField } from './helpers/test-device.ts';
import { DEVICE_ID, MemoryCredentials, PASSWORD, once, sleep, startServer } from './helpers/server.ts';
import { QueryTimeoutError, SipResponseError } from '../src/errors.ts';
import sip from 'sip';
import type { SipServerOptions } from '../src/types.ts';

const CH1 = '34020000001320000101';
const CH2 = '34020000001320000102';
const GROUP = '34020000002150000001';
const REGION = '340200';

const item = (id: string, extra = '') => `<Item><DeviceID>${id}</DeviceID><Name>通道 ${id.slice(-3)}</Name>${extra}</Item>`;
const catalogResponse = (sn: string, sum: number, items: string[]) =>
  `<?xml version="1.0" encoding="GB2312"?>\r\n<Response>\r\n<CmdType>Catalog</CmdType>\r\n<SN>${sn}</SN>\r\n<DeviceID>${DEVICE_ID}</DeviceID>\r\n<SumNum>${sum}</SumNum>\r\n<DeviceList Num="${items.length}">\r\n${items.join('\r\n')}\r\n</DeviceList>\r\n</Response>\r\n`;

async function registered(transport: 'udp' | 'tcp' = 'udp', over: Partial<SipServerOptions> = {}) {
  const server = await startServer(over);
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port, transport });
  assert.equal((await dev.register()).status, 200);
  return { server, dev };
}

test('queryCatalog merges SumNum items sent one per message, drops duplicates and emits catalog complete', async () => {
  const { server, dev } = await registered();
  try {
    const catalogEvent = once(server, 'catalog');
    const result = server.queryCatalog(DEVICE_ID, { timeoutMs: 5000 });
    const q = await dev.nextRequest('MESSAGE');
    const xml = bodyText(q);
    assert.equal(xmlField(xml, 'CmdType'), 'Catalog');
    assert.equal(xmlField(xml, 'DeviceID'), DEVICE_ID);
    assert.equal(q.headers['content-type'], 'Application/MANSCDP+xml');
    const sn = xmlField(xml, 'SN')!;
    await dev.message(catalogResponse(sn, 4, [item(REGION)]));
    await dev.message(catalogResponse(sn, 4, [item(GROUP)]));
    await dev.message(catalogResponse(sn, 4, [item(CH1, '<Status>ON</Status><Info><PTZType>1</PTZType></Info><Longitude> 120.5 </Longitude>')]));
    await dev.message(catalogResponse(sn, 4, [item(CH1, '<Status>ON</Status>')]));
    await dev.message(catalogResponse(sn, 4, [item(CH2, '<Status>OFFLINE</Status><ParentID>' + GROUP + '</ParentID>')]));
    const r = await result;
    assert.equal(r.complete, true);
    assert.equal(r.sumNum, 4);
    assert.equal(r.items.length, 4);
    const byId = new Map(r.items.map((i) => [i.deviceId, i]));
    assert.equal(byId.get(REGION)!.kind, 'region');
    assert.equal(byId.get(GROUP)!.kind, 'group');
    assert.equal(byId.get(CH1)!.kind, 'channel');
    assert.equal(byId.get(CH1)!.name, '通道 101');
    assert.equal(byId.get(CH2)!.status, 'OFF');
    assert.equal(byId.get(CH2)!.parentId, GROUP);
    const ev = await catalogEvent;
    assert.equal(ev.complete, true);
    assert.equal(ev.items.length, 4);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('queryCatalog resolves incomplete after the timeout when fewer than SumNum items came', async () => {
  const { server, dev } = await registered('tcp');
  try {
    const result = server.queryCatalog(DEVICE_ID, { timeoutMs: 400 });
    const sn = xmlField(bodyText(await dev.nextRequest('MESSAGE')), 'SN')!;
    await dev.message(catalogResponse(sn, 3, [item(CH1)]));
    const r = await result;
    assert.equal(r.complete, false);
    assert.equal(r.sumNum, 3);
    assert.deepEqual(r.items.map((i) => i.deviceId), [CH1]);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('queryCatalog resolves at once with no items for SumNum 0, and rejects QueryTimeoutError when nothing answers', async () => {
  const { server, dev } = await registered();
  try {
    const empty = server.queryCatalog(DEVICE_ID, { timeoutMs: 3000 });
    const sn = xmlField(bodyText(await dev.nextRequest('MESSAGE')), 'SN')!;
    await dev.message(catalogResponse(sn, 0, []));
    const r = await empty;
    assert.equal(r.complete, true);
    assert.deepEqual(r.items, []);
    await assert.rejects(server.queryCatalog(DEVICE_ID, { timeoutMs: 300 }), QueryTimeoutError);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('queries reject with SipResponseError when the device refuses the MESSAGE', async () => {
  const { server, dev } = await registered();
  dev.onRequest = (rq) => sip.makeResponse(rq, 488, 'Not Acceptable Here');
  try {
    await assert.rejects(server.queryDeviceInfo(DEVICE_ID, { timeoutMs: 3000 }), (e: unknown) => e instanceof SipResponseError && e.status === 488);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('the catalog is queried once after registration, not after keepalives or refreshes', async () => {
  const { server, dev } = await registered('udp', { catalogOnRegister: true });
  try {
    const q = await dev.nextRequest('MESSAGE');
    assert.equal(xmlField(bodyText(q), 'CmdType'), 'Catalog');
    const ev = once(server, 'catalog');
    await dev.message(catalogResponse(xmlField(bodyText(q), 'SN')!, 1, [item(CH1)]));
    assert.equal((await ev).items[0]!.deviceId, CH1);
    await dev.keepalive(1);
    await dev.keepalive(2);
    await dev.register();
    await sleep(200);
    assert.equal(dev.requests.filter((r) => r.method === 'MESSAGE').length, 0);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('queryDeviceInfo and queryDeviceStatus return the answer matched by CmdType and SN', async () => {
  const { server, dev } = await registered();
  try {
    const info = server.queryDeviceInfo(DEVICE_ID);
    const sn = xmlField(bodyText(await dev.nextRequest('MESSAGE')), 'SN')!;
    // A stale answer with another SN must not be taken.
    await dev.message(`<Response><CmdType>DeviceInfo</CmdType><SN>${Number(sn) + 1000}</SN><DeviceID>${DEVICE_ID}</DeviceID><Model>WRONG</Model></Response>`);
    await dev.message(`<?xml version="1.0" encoding="GB2312"?><Response><CmdType>DeviceInfo</CmdType><SN>${sn}</SN><DeviceID>${DEVICE_ID}</DeviceID><DeviceName>前门</DeviceName><Result>OK</Result><Manufacturer>Hikvision</Manufacturer><Model>DS-2CD</Model><Firmware>V5.5</Firmware><Channel> 4 </Channel></Response>`);
    assert.deepEqual(await info, { deviceId: DEVICE_ID, deviceName: '前门', result: 'OK', manufacturer: 'Hikvision', model: 'DS-2CD', firmware: 'V5.5', channel: 4 });
    const status = server.queryDeviceStatus(DEVICE_ID);
    const sn2 = xmlField(bodyText(await dev.nextRequest('MESSAGE')), 'SN')!;
    await dev.message(`<Response><CmdType>DeviceStatus</CmdType><SN>${sn2}</SN><DeviceID>${DEVICE_ID}</DeviceID><Result>OK</Result><Online>ONLINE</Online><Status>OK</Status><Record>OFF</Record><DeviceTime>2026-01-01T00:00:00</DeviceTime></Response>`);
    const st = await status;
    assert.equal(st.online, 'ONLINE');
    assert.equal(st.record, 'OFF');
    assert.equal(st.deviceTime, '2026-01-01T00:00:00');
  } finally {
    await dev.close();
    await server.close();
  }
});

test('queryRecordInfo asks the channel with local times and Type all, and merges items across messages', async () => {
  const { server, dev } = await registered();
  try {
    const start = new Date(2026, 0, 2, 3, 4, 5);
    const end = new Date(2026, 0, 2, 23, 59, 59);
    const records = server.queryRecordInfo(DEVICE_ID, CH1, start, end, { timeoutMs: 5000 });
    const q = await dev.nextRequest('MESSAGE');
    assert.ok(q.uri!.startsWith(`sip:${CH1}@127.0.0.1:`));
    const xml = bodyText(q);
    assert.equal(xmlField(xml, 'CmdType'), 'RecordInfo');
    assert.equal(xmlField(xml, 'DeviceID'), CH1);
    assert.equal(xmlField(xml, 'StartTime'), '2026-01-02T03:04:05');
    assert.equal(xmlField(xml, 'EndTime'), '2026-01-02T23:59:59');
    assert.equal(xmlField(xml, 'Type'), 'all');
    const sn = xmlField(xml, 'SN')!;
    const rec = (s: string, e: string) => `<Item><DeviceID>${CH1}</DeviceID><Name>cam</Name><FilePath>/r/${s}</FilePath><StartTime>${s}</StartTime><EndTime>${e}</EndTime><Secrecy>0</Secrecy><Type>time</Type><FileSize>1024</FileSize></Item>`;
    const resp = (items: string[]) => `<Response><CmdType>RecordInfo</CmdType><SN>${sn}</SN><DeviceID>${CH1}</DeviceID><SumNum>3</SumNum><RecordList Num="${items.length}">${items.join('')}</RecordList></Response>`;
    await dev.message(resp([rec('2026-01-02T04:00:00', '2026-01-02T05:00:00')]));
    await dev.message(resp([rec('2026-01-02T05:00:00', '2026-01-02T06:00:00'), rec('2026-01-02T05:30:00', '2026-01-02T07:00:00')]));
    const items = await records;
    assert.equal(items.length, 3);
    assert.deepEqual(items[0], { deviceId: CH1, name: 'cam', filePath: '/r/2026-01-02T04:00:00', startTime: '2026-01-02T04:00:00', endTime: '2026-01-02T05:00:00', secrecy: 0, type: 'time', fileSize: 1024 });
    const none = server.queryRecordInfo(DEVICE_ID, CH1, start, end, { timeoutMs: 5000 });
    const sn2 = xmlField(bodyText(await dev.nextRequest('MESSAGE')), 'SN')!;
    await dev.message(`<Response><CmdType>RecordInfo</CmdType><SN>${sn2}</SN><DeviceID>${CH1}</DeviceID><SumNum>0</SumNum></Response>`);
    assert.deepEqual(await none, []);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('requests to a device are encoded in its charset: UTF-8 after it spoke UTF-8, or as set by setCharset', async () => {
  const { server, dev } = await registered();
  try {
    await dev.message(`<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>${DEVICE_ID}</DeviceID><Status>OK</Status></Notify>`, 'utf-8');
    void server.queryDeviceInfo(DEVICE_ID, { timeoutMs: 200 }).catch(() => undefined);
    assert.match((await dev.nextRequest('MESSAGE')).content!, /encoding="UTF-8"/);
    server.setCharset(DEVICE_ID, 'gb18030');
    void server.queryDeviceInfo(DEVICE_ID, { timeoutMs: 200 }).catch(() => undefined);
    assert.match((await dev.nextRequest('MESSAGE')).content!, /encoding="GB2312"/);
    await sleep(250);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('the charset stored with the device credentials decides how its bodies are read and written', async () => {
  const creds = new MemoryCredentials();
  creds.devices.set(DEVICE_ID, { deviceId: DEVICE_ID, password: PASSWORD, charset: 'utf-8' });
  const { server, dev } = await registered('udp', { credentials: creds });
  try {
    const info = server.queryDeviceInfo(DEVICE_ID, { timeoutMs: 3000 });
    const q = await dev.nextRequest('MESSAGE');
    assert.match(q.content!, /encoding="UTF-8"/);
    const sn = xmlField(bodyText(q), 'SN')!;
    // The prolog claims GB2312 but this device is configured as UTF-8.
    await dev.message(`<?xml version="1.0" encoding="GB2312"?><Response><CmdType>DeviceInfo</CmdType><SN>${sn}</SN><DeviceID>${DEVICE_ID}</DeviceID><DeviceName>东门</DeviceName></Response>`, 'utf-8');
    assert.equal((await info).deviceName, '东门');
  } finally {
    await dev.close();
    await server.close();
  }
});

test('a catalog that trickles in slower than the timeout still completes: each message restarts it', async () => {
  const { server, dev } = await registered();
  try {
    const result = server.queryCatalog(DEVICE_ID, { timeoutMs: 800 });
    const sn = xmlField(bodyText(await dev.nextRequest('MESSAGE')), 'SN')!;
    // 3 x 500 ms in all is well past one timeout, each gap well inside it.
    for (const id of [CH1, CH2, GROUP]) {
      await sleep(500);
      await dev.message(catalogResponse(sn, 3, [item(id)]));
    }
    const r = await result;
    assert.equal(r.complete, true);
    assert.equal(r.items.length, 3);
  } finally {
    await dev.close();
    await server.close();
  }
});
