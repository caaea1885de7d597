// MANSCDP bodies as a device writes them, and the few fields a device reads from a query.
import iconv from 'iconv-lite';

export type DeviceCharset = 'gb2312' | 'utf-8';

export interface QueryFields {
  root: string;
  cmdType: string;
  sn: string;
  deviceId: string;
  fields: Record<string, string>;
}

export interface CatalogChannel {
  channelId: string;
  name: string;
  status: 'ON' | 'OFF';
  ptzType: 1 | 2 | 3 | 4;
  longitude: number;
  latitude: number;
}

export interface RecordSegment {
  start: Date;
  end: Date;
}

export function decodeBody(content: string): string {
  const bytes = Buffer.from(content, 'latin1');
  const head = bytes.subarray(0, 100).toString('latin1');
  const declared = /encoding\s*=\s*["']([\w-]+)["']/i.exec(head)?.[1]?.toLowerCase();
  if (declared && declared !== 'utf-8' && declared !== 'utf8') return iconv.decode(bytes, 'gb18030');
  const text = bytes.toString('utf8');
  // Invalid UTF-8 without a declaration is a GB-encoded body in practice.
  return text.includes('\uFFFD') ? iconv.decode(bytes, 'gb18030') : text;
}

/** Reads root, CmdType, SN, DeviceID and every other flat element of a query; queries are one level deep. */
export function readQuery(xml: string): QueryFields | undefined {
  const root = /<\s*(Query|Control|Notify|Response)\b/i.exec(xml)?.[1];
  if (!root) return undefined;
  const fields: Record<string, string> = {};
  for (const m of xml.matchAll(/<([A-Za-z][\w]*)(?:\s[^>]*)?>([^<]*)<\/\1\s*>/g)) {
    const name = m[1]!;
    if (!(name in fields)) fields[name] = m[2]!.trim();
  }
  const pick = (n: string): string => fields[n] ?? fields[Object.keys(fields).find((k) => k.toLowerCase() === n.toLowerCase()) ?? ''] ?? '';
  return { root: root[0]!.toUpperCase() + root.slice(1).toLowerCase(), cmdType: pick('CmdType'), sn: pick('SN'), deviceId: pick('DeviceID'), fields };
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function prolog(charset: DeviceCharset): string {
  return `<?xml version="1.0" encoding="${charset === 'gb2312' ? 'GB2312' : 'UTF-8'}"?>\r\n`;
}

/** Encodes a body as the `sip` package wants it: a latin1 string of the charset's bytes. */
export function encodeBody(xml: string, charset: DeviceCharset): string {
  return iconv.encode(xml, charset === 'gb2312' ? 'gb2312' : 'utf-8').toString('latin1');
}

function head(root: string, cmdType: string, sn: string | number, deviceId: string): string {
  return `<${root}>\r\n<CmdType>${cmdType}</CmdType>\r\n<SN>${sn}</SN>\r\n<DeviceID>${deviceId}</DeviceID>\r\n`;
}

export function keepaliveXml(o: { deviceId: string; sn: number; charset: DeviceCharset; statusInInfo: boolean }): string {
  const status = o.statusInInfo ? '<Info>\r\n<Status>OK</Status>\r\n</Info>\r\n' : '<Status>OK</Status>\r\n';
  return `${prolog(o.charset)}${head('Notify', 'Keepalive', o.sn, o.deviceId)}${status}</Notify>\r\n`;
}

function catalogItemXml(c: CatalogChannel, parentId: string, manufacturer: string): string {
  return (
    `<Item>\r\n<DeviceID>${c.channelId}</DeviceID>\r\n<Name>${escapeXml(c.name)}</Name>\r\n` +
    `<Manufacturer>${manufacturer}</Manufacturer>\r\n<Model>SIM-CH</Model>\r\n<Owner>Owner</Owner>\r\n` +
    `<CivilCode>${parentId.slice(0, 6)}</CivilCode>\r\n<Address>${escapeXml(c.name)}</Address>\r\n<Parental>0</Parental>\r\n` +
    `<ParentID>${parentId}</ParentID>\r\n<SafetyWay>0</SafetyWay>\r\n<RegisterWay>1</RegisterWay>\r\n<Secrecy>0</Secrecy>\r\n` +
    `<Status>${c.status}</Status>\r\n<Longitude>${c.longitude.toFixed(6)}</Longitude>\r\n<Latitude>${c.latitude.toFixed(6)}</Latitude>\r\n` +
    `<Info>\r\n<PTZType>${c.ptzType}</PTZType>\r\n</Info>\r\n</Item>\r\n`
  );
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** One XML document per message; `perMessage` 1 imitates NVRs that send one item per datagram. */
export function catalogResponseXmls(o: {
  deviceId: string; sn: string; channels: CatalogChannel[]; perMessage: number; charset: DeviceCharset; manufacturer: string;
}): string[] {
  const groups = o.channels.length === 0 ? [[]] : chunk(o.channels, Math.max(1, o.perMessage));
  return groups.map(
    (g) =>
      `${prolog(o.charset)}${head('Response', 'Catalog', o.sn, o.deviceId)}<SumNum>${o.channels.length}</SumNum>\r\n` +
      `<DeviceList Num="${g.length}">\r\n${g.map((c) => catalogItemXml(c, o.deviceId, o.manufacturer)).join('')}</DeviceList>\r\n</Response>\r\n`,
  );
}

export function deviceInfoXml(o: { deviceId: string; sn: string; name: string; manufacturer: string; model: string; firmware: string; channels: number; charset: DeviceCharset }): string {
  return (
    `${prolog(o.charset)}${head('Response', 'DeviceInfo', o.sn, o.deviceId)}<DeviceName>${escapeXml(o.name)}</DeviceName>\r\n<Result>OK</Result>\r\n` +
    `<Manufacturer>${o.manufacturer}</Manufacturer>\r\n<Model>${o.model}</Model>\r\n<Firmware>${o.firmware}</Firmware>\r\n` +
    `<Channel>${o.channels}</Channel>\r\n</Response>\r\n`
  );
}

/** Local time as devices write it: YYYY-MM-DDTHH:MM:SS without zone. */
export function localTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function parseLocalTime(s: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})/.exec(s.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se] = m.map(Number) as number[];
  return new Date(y!, mo! - 1, d!, h!, mi!, se!);
}

export function deviceStatusXml(o: { deviceId: string; sn: string; charset: DeviceCharset; now: Date }): string {
  return (
    `${prolog(o.charset)}${head('Response', 'DeviceStatus', o.sn, o.deviceId)}<Result>OK</Result>\r\n<Online>ONLINE</Online>\r\n` +
    `<Status>OK</Status>\r\n<Encode>ON</Encode>\r\n<Record>OFF</Record>\r\n<DeviceTime>${localTime(o.now)}</DeviceTime>\r\n` +
    `<Alarmstatus Num="0">\r\n</Alarmstatus>\r\n</Response>\r\n`
  );
}

export function recordInfoXmls(o: {
  channelId: string; channelName: string; sn: string; segments: RecordSegment[]; perMessage: number; charset: DeviceCharset;
}): string[] {
  const groups = o.segments.length === 0 ? [[]] : chunk(o.segments, Math.max(1, o.perMessage));
  return groups.map(
    (g) =>
      `${prolog(o.charset)}${head('Response', 'RecordInfo', o.sn, o.channelId)}<Name>${escapeXml(o.channelName)}</Name>\r\n` +
      `<SumNum>${o.segments.length}</SumNum>\r\n<RecordList Num="${g.length}">\r\n` +
      g
        .map(
          (s) =>
            `<Item>\r\n<DeviceID>${o.channelId}</DeviceID>\r\n<Name>${escapeXml(o.channelName)}</Name>\r\n` +
            `<FilePath>/record/${o.channelId}/${s.start.getTime() / 1000}.ps</FilePath>\r\n<Address>sim</Address>\r\n` +
            `<StartTime>${localTime(s.start)}</StartTime>\r\n<EndTime>${localTime(s.end)}</EndTime>\r\n<Secrecy>0</Secrecy>\r\n` +
            `<Type>time</Type>\r\n<RecorderID>${o.channelId}</RecorderID>\r\n<FileSize>${Math.round((s.end.getTime() - s.start.getTime()) / 1000) * 256000}</FileSize>\r\n</Item>\r\n`,
        )
        .join('') +
      `</RecordList>\r\n</Response>\r\n`,
  );
}

/** Recordings a simulated channel "has": 25-minute segments starting every 30 minutes, at most `max`. */
export function syntheticRecordSegments(start: Date, end: Date, max = 500): RecordSegment[] {
  const out: RecordSegment[] = [];
  const step = 30 * 60_000;
  let t = Math.ceil(start.getTime() / step) * step;
  while (t < end.getTime() && out.length < max) {
    out.push({ start: new Date(t), end: new Date(Math.min(t + 25 * 60_000, end.getTime())) });
    t += step;
  }
  return out;
}

export function mediaStatusXml(o: { deviceId: string; sn: number; charset: DeviceCharset }): string {
  return `${prolog(o.charset)}${head('Notify', 'MediaStatus', o.sn, o.deviceId)}<NotifyType>121</NotifyType>\r\n</Notify>\r\n`;
}
