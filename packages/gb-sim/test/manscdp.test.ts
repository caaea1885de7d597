import { test } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import {
  catalogResponseXmls, decodeBody, encodeBody, keepaliveXml, readQuery, recordInfoXmls, syntheticRecordSegments, type CatalogChannel,
} from '../src/manscdp.ts';

const channels: CatalogChannel[] = Array.from({ length: 5 }, (_, k) => ({
  channelId: `340200000013100000${k}1`, name: `模拟通道${k}`, status: 'ON', ptzType: 1, longitude: 120, latitude: 30,
}));

test('catalogResponseXmls() splits the items over messages that all carry the total SumNum', () => {
  const xmls = catalogResponseXmls({ deviceId: '34020000001180000001', sn: '7', channels, perMessage: 2, charset: 'utf-8', manufacturer: 'x' });
  assert.equal(xmls.length, 3);
  for (const x of xmls) assert.match(x, /<SumNum>5<\/SumNum>/);
  assert.deepEqual(xmls.map((x) => /Num="(\d+)"/.exec(x)?.[1]), ['2', '2', '1']);
  assert.equal(xmls.join('').match(/<Item>/g)?.length, 5);
});

test('catalogResponseXmls() with perMessage 1 sends one item per message, and an empty catalog still answers SumNum 0', () => {
  assert.equal(catalogResponseXmls({ deviceId: '34020000001180000001', sn: '1', channels, perMessage: 1, charset: 'utf-8', manufacturer: 'x' }).length, 5);
  const empty = catalogResponseXmls({ deviceId: '34020000001180000001', sn: '1', channels: [], perMessage: 1, charset: 'utf-8', manufacturer: 'x' });
  assert.equal(empty.length, 1);
  assert.match(empty[0]!, /<SumNum>0<\/SumNum>[\s\S]*Num="0"/);
});

test('encodeBody() writes GB2312 bytes that decodeBody() reads back by the prolog', () => {
  const xml = catalogResponseXmls({ deviceId: '34020000001180000001', sn: '1', channels, perMessage: 5, charset: 'gb2312', manufacturer: 'x' })[0]!;
  const wire = encodeBody(xml, 'gb2312');
  const bytes = Buffer.from(wire, 'latin1');
  assert.ok(bytes.includes(iconv.encode('模拟通道0', 'gb2312')));
  assert.ok(!bytes.includes(Buffer.from('模拟通道0', 'utf8')));
  assert.equal(decodeBody(wire), xml);
  assert.equal(decodeBody(encodeBody(xml.replace('GB2312', 'UTF-8'), 'utf-8')), xml.replace('GB2312', 'UTF-8'));
});

test('readQuery() tolerates lower-case CmdType, whitespace and a missing prolog', () => {
  const q = readQuery('<Query>\n<CmdType>catalog</CmdType><SN> 42 </SN>\r\n<DeviceID>34020000001320000001</DeviceID></Query>');
  assert.deepEqual({ root: q?.root, cmdType: q?.cmdType, sn: q?.sn, deviceId: q?.deviceId }, { root: 'Query', cmdType: 'catalog', sn: '42', deviceId: '34020000001320000001' });
  assert.equal(readQuery('garbage <x>'), undefined);
});

test('keepaliveXml() puts Status inside Info for the statusInInfo quirk', () => {
  assert.match(keepaliveXml({ deviceId: '1', sn: 1, charset: 'utf-8', statusInInfo: true }), /<Info>\r\n<Status>OK<\/Status>\r\n<\/Info>/);
  assert.doesNotMatch(keepaliveXml({ deviceId: '1', sn: 1, charset: 'utf-8', statusInInfo: false }), /<Info>/);
});

test('recordInfoXmls() answers segments inside the asked range, split over messages', () => {
  const start = new Date(2026, 0, 1, 0, 0, 0);
  const end = new Date(2026, 0, 1, 3, 0, 0);
  const segments = syntheticRecordSegments(start, end);
  assert.equal(segments.length, 6);
  assert.ok(segments.every((s) => s.start >= start && s.end <= end && s.end > s.start));
  const xmls = recordInfoXmls({ channelId: '34020000001310000001', channelName: 'c', sn: '3', segments, perMessage: 4, charset: 'utf-8' });
  assert.equal(xmls.length, 2);
  assert.match(xmls[0]!, /<StartTime>2026-01-01T00:00:00<\/StartTime>/);
  assert.match(xmls[1]!, /<SumNum>6<\/SumNum>/);
});
