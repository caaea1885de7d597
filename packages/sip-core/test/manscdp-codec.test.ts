import { test } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { decodeManscdp, encodeManscdp, ManscdpError, text1 } from '../src/manscdp-codec.ts';
import { catalogItems } from '../src/catalog-merger.ts';

const latin1 = (xml: string, charset = 'gb18030') => iconv.encode(xml, charset).toString('latin1');

test('decodeManscdp reads a GB2312 prolog as GB18030 (including characters outside GB2312)', () => {
  const name = '大门摄像机䶮';
  const m = decodeManscdp(latin1(`<?xml version="1.0" encoding="GB2312"?><Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>d</DeviceID><DeviceList Num="1"><Item><DeviceID>34020000001320000001</DeviceID><Name>${name}</Name></Item></DeviceList></Response>`));
  assert.equal(m.charset, 'gb18030');
  assert.equal(catalogItems(m)[0]!.name, name);
});

test('decodeManscdp falls back to GB18030 when a UTF-8 prolog lies', () => {
  const m = decodeManscdp(latin1(`<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>通道一</DeviceID></Notify>`));
  assert.equal(m.charset, 'gb18030');
  assert.equal(m.deviceId, '通道一');
});

test('decodeManscdp honours a per-device charset override and a UTF-8 BOM', () => {
  const utf8 = latin1(`<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>前门</DeviceID></Notify>`, 'utf-8');
  assert.equal(decodeManscdp(utf8, 'utf-8').deviceId, '前门');
  const bom = '\xef\xbb\xbf' + latin1('<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>后门</DeviceID></Notify>', 'utf-8');
  const m = decodeManscdp(bom);
  assert.equal(m.deviceId, '后门');
  assert.equal(m.charset, 'utf-8');
});

test('decodeManscdp tolerates lower-case tags and CmdType, whitespace in numbers, empty tags and junk after the root', () => {
  const m = decodeManscdp(latin1('<response>\n <cmdtype>catalog</cmdtype>\n <sn>\n 1 7 \n</sn>\n <deviceid>x</deviceid><sumnum> 2 </sumnum><devicelist num="1"><item><deviceid>34020000001320000001</deviceid><name/></item></devicelist></response>\r\n\0junk'));
  assert.equal(m.root, 'Response');
  assert.equal(m.cmdType, 'Catalog');
  assert.equal(m.sn, 17);
  assert.equal(catalogItems(m)[0]!.name, undefined);
});

test('decodeManscdp accepts an unescaped ampersand in a name', () => {
  const m = decodeManscdp(latin1('<Response><CmdType>DeviceInfo</CmdType><SN>1</SN><DeviceID>d</DeviceID><DeviceName>A&B</DeviceName></Response>'));
  assert.equal(text1(m.body, 'devicename'), 'A&B');
});

test('decodeManscdp rejects a missing CmdType, an entity bomb and non-XML with ManscdpError', () => {
  assert.throws(() => decodeManscdp(latin1('<Notify><SN>1</SN></Notify>')), ManscdpError);
  const bomb = '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><Notify><CmdType>&c;</CmdType></Notify>';
  assert.throws(() => decodeManscdp(latin1(bomb)), ManscdpError);
  assert.throws(() => decodeManscdp('\x00\x01\x02 binary'), ManscdpError);
  assert.throws(() => decodeManscdp(''), ManscdpError);
});

test('encodeManscdp writes the prolog and bytes of the device charset, escaping values', () => {
  const gb = encodeManscdp('Query', [['CmdType', 'Catalog'], ['SN', 5], ['DeviceID', '设备<1>']], 'gb18030');
  assert.match(gb, /^<\?xml version="1.0" encoding="GB2312"\?>/);
  assert.ok(iconv.decode(Buffer.from(gb, 'latin1'), 'gb18030').includes('<DeviceID>设备&lt;1&gt;</DeviceID>'));
  const u = encodeManscdp('Query', [['CmdType', 'Catalog']], 'utf-8');
  assert.match(u, /encoding="UTF-8"/);
  const back = decodeManscdp(gb);
  assert.equal(back.deviceId, '设备<1>');
  assert.equal(back.sn, 5);
});

test('decodeManscdp reads a plain keepalive without the XML parser, with the same result', () => {
  const ka = '<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN> 43</SN>\r\n<DeviceID>34020000001320000001</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n';
  const fast = decodeManscdp(ka);
  // A comment forces the XML parser path; the answer must not differ.
  const slow = decodeManscdp(ka.replace('<Notify>', '<!-- x --><Notify>'));
  assert.deepEqual(fast, slow);
  assert.equal(fast.sn, 43);
  assert.equal(fast.charset, 'gb18030');
  assert.equal(decodeManscdp('<Notify><CmdType>keepalive</CmdType><SN>1</SN></Notify>', 'gb18030').cmdType, 'Keepalive');
});
