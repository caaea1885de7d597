import { EntitySchema } from 'typeorm';

// EntitySchema rather than decorators: tsx/esbuild emit no decorator metadata, and every column
// carries an explicit type so the same schema maps onto SQLite and MariaDB.
// Field names are the JSON names of ../shared/spec/api.md (gosip's), so filters map 1:1.

export interface DeviceRow {
  id: number;
  deviceid: string;
  name: string;
  region: string;
  host: string;
  port: number;
  transport: string; // udp | tcp
  manufacturer: string;
  model: string;
  firmware: string;
  charset: string; // auto | gb18030 | utf-8
  stream_mode: string; // udp | tcp-passive | tcp-active
  online: boolean;
  regist: boolean;
  active: number; // last keepalive, Unix s
  expires: number;
  channels: number;
  password: string; // secret: never selected into API output
  addtime: number;
  uptime: number;
}

export interface ChannelRow {
  id: number;
  channelid: string;
  deviceid: string;
  name: string;
  memo: string;
  manufacturer: string;
  model: string;
  owner: string;
  civilcode: string;
  address: string;
  parental: number;
  parentid: string;
  safetyway: number;
  registerway: number;
  secrecy: number;
  status: string; // ON | OFF
  active: number;
  longitude: number;
  latitude: number;
  ptztype: number;
  vf: string;
  width: number;
  height: number;
  fps: number;
  streamtype: string; // push | pull
  url: string;
  addtime: number;
  uptime: number;
}

export interface StreamRow {
  id: number;
  streamid: string; // SSRC in hex, as gosip
  ssrc: string; // 10 decimal digits
  t: number; // 0 live, 1 playback
  deviceid: string;
  channelid: string;
  status: string; // opening | playing | closed | failed
  start: number;
  end: number;
  stream: boolean; // media flowing
  viewers: number;
  msg: string; // stop reason / last error
  transport: string; // udp | tcp-passive | tcp-active
  port: number;
  node: string; // which gateway process owns the stream
  dialog: string; // JSON DialogState, for BYE after restart
  diagnosis: string; // JSON
  addtime: number;
  uptime: number;
}

const id = { type: Number, primary: true, generated: 'increment' as const };
const str = (length: number, def = '') => ({ type: 'varchar' as const, length, default: def });
const int = (def = 0) => ({ type: 'integer' as const, default: def });
const big = (def = 0) => ({ type: 'bigint' as const, default: def, transformer: bigintNumber });
const bool = (def = false) => ({ type: 'boolean' as const, default: def });
const real = (def = 0) => ({ type: 'double' as const, default: def });

// Indexes on the columns the API filters and sorts on; names match migrations/.
const indexes = <T>(table: string, columns: (keyof T & string)[], compound: (keyof T & string)[][] = []) => [
  ...columns.map((c) => ({ name: `IDX_${table}_${c}`, columns: [c] })),
  ...compound.map((cs) => ({ name: `IDX_${table}_${cs.join('_')}`, columns: cs })),
];

// mysql2 returns BIGINT as string; the API speaks numbers.
const bigintNumber = {
  to: (v: number | undefined) => v,
  from: (v: string | number | null) => (v === null ? 0 : Number(v)),
};

export const DeviceEntity = new EntitySchema<DeviceRow>({
  name: 'Device',
  tableName: 'devices',
  columns: {
    id,
    deviceid: str(20),
    name: str(128),
    region: str(20),
    host: str(64),
    port: int(),
    transport: str(8, 'udp'),
    manufacturer: str(64),
    model: str(64),
    firmware: str(64),
    charset: str(16, 'auto'),
    stream_mode: str(16, 'tcp-passive'),
    online: bool(),
    regist: bool(),
    active: big(),
    expires: int(),
    channels: int(),
    password: { ...str(64), select: false },
    addtime: big(),
    uptime: big(),
  },
  uniques: [{ name: 'UQ_devices_deviceid', columns: ['deviceid'] }],
  indices: indexes<DeviceRow>('devices', ['name', 'online', 'addtime', 'uptime', 'host'], [['online', 'addtime']]),
});

export const ChannelEntity = new EntitySchema<ChannelRow>({
  name: 'Channel',
  tableName: 'channels',
  columns: {
    id,
    channelid: str(20),
    deviceid: str(20),
    name: str(128),
    memo: str(255),
    manufacturer: str(64),
    model: str(64),
    owner: str(64),
    civilcode: str(20),
    address: str(255),
    parental: int(),
    parentid: str(64),
    safetyway: int(),
    registerway: int(1),
    secrecy: int(),
    status: str(8, 'OFF'),
    active: big(),
    longitude: real(),
    latitude: real(),
    ptztype: int(),
    vf: str(16),
    width: int(),
    height: int(),
    fps: int(),
    streamtype: str(8, 'push'),
    url: str(1024),
    addtime: big(),
    uptime: big(),
  },
  uniques: [{ name: 'UQ_channels_channelid', columns: ['channelid'] }],
  indices: indexes<ChannelRow>('channels', ['deviceid', 'status', 'name', 'parentid', 'addtime'], [['status', 'name'], ['deviceid', 'addtime']]),
});

export const StreamEntity = new EntitySchema<StreamRow>({
  name: 'Stream',
  tableName: 'streams',
  columns: {
    id,
    streamid: str(16),
    ssrc: str(10),
    t: int(),
    deviceid: str(20),
    channelid: str(20),
    status: str(16, 'opening'),
    start: big(),
    end: big(),
    stream: bool(),
    viewers: int(),
    msg: str(512),
    transport: str(16, 'udp'),
    port: int(),
    node: str(64),
    dialog: { type: 'text' as const, nullable: true },
    diagnosis: { type: 'text' as const, nullable: true },
    addtime: big(),
    uptime: big(),
  },
  uniques: [{ name: 'UQ_streams_streamid', columns: ['streamid'] }],
  indices: indexes<StreamRow>('streams', ['deviceid', 'channelid', 'status', 't', 'addtime']),
});

export const entities = [DeviceEntity, ChannelEntity, StreamEntity];
