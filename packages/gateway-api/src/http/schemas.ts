// Request and response schemas of the REST contract (../shared/spec/api.md). Request schemas coerce
// because gosip clients post form-encoded bodies where every value is a string.
import { z } from 'zod';
import { filterLimits } from './filters.ts';

const gbId = z.string().regex(/^\d{20}$/, 'expected a 20-digit GB id');
const unixSeconds = z.coerce.number().int().min(0).max(4_102_444_800);

export const deviceIdParams = z.object({ id: gbId });
export const channelIdParams = z.object({ id: gbId });
export const streamIdParams = z.object({ id: z.string().regex(/^[0-9A-Fa-f]{1,16}$/, 'expected a stream id (hex)') });

export const listQuery = z.object({
  limit: z.coerce.number().int().min(1).default(20).describe('page size, default 20, capped at 1000').transform((v) => Math.min(v, 1000)),
  skip: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
  sort: z.string().max(filterLimits.maxSortLength).optional().describe('comma list of fields, `-` prefix = descending; default `-addtime`'),
  filters: z.string().max(filterLimits.maxFiltersLength).optional().describe('URL-encoded JSON array of conditions (gosip filters language)'),
});
export type ListQuery = z.output<typeof listQuery>;

const password = z.string().regex(/^[\x21-\x7e]{1,64}$/, 'expected 1-64 printable ASCII characters without spaces');
const charset = z.enum(['auto', 'gb18030', 'utf-8']);
const streamMode = z.enum(['udp', 'tcp-passive', 'tcp-active']);
const streamType = z.enum(['push', 'pull']);
const sourceUrl = z.string().max(1024).regex(/^(rtsp|rtmp|https?|srt):\/\/\S+$/i, 'expected an rtsp://, rtmp://, http(s):// or srt:// URL');

export const createDeviceBody = z.object({
  name: z.string().max(128).optional(),
  pwd: password.optional().describe('generated (12 characters) when absent; returned once'),
  deviceid: gbId.optional().describe('keep an existing camera id instead of allocating one'),
});
export const updateDeviceBody = z.object({
  name: z.string().max(128).optional(),
  pwd: password.optional(),
  charset: charset.optional(),
  stream_mode: streamMode.optional(),
});
export const createChannelBody = z.object({
  name: z.string().max(128).optional(),
  memo: z.string().max(255).optional(),
  streamtype: streamType.default('push'),
  url: sourceUrl.optional(),
});
export const updateChannelBody = z.object({
  name: z.string().max(128).optional(),
  memo: z.string().max(255).optional(),
  streamtype: streamType.optional(),
  url: sourceUrl.or(z.literal('')).optional(),
});
export const playBody = z.object({
  replay: z.coerce.number().int().min(0).max(1).default(0).describe('0 live, 1 playback'),
  start: unixSeconds.optional(),
  end: unixSeconds.optional(),
});
export const recordsRange = z.object({ start: unixSeconds, end: unixSeconds });
export const recordsQuery = recordsRange.extend({ channelid: gbId });

export const deviceSchema = z.object({
  deviceid: z.string(),
  name: z.string(),
  region: z.string(),
  host: z.string(),
  port: z.number().int(),
  transport: z.string(),
  manufacturer: z.string(),
  model: z.string(),
  firmware: z.string(),
  charset: z.string(),
  stream_mode: z.string(),
  online: z.boolean(),
  regist: z.boolean(),
  active: z.number().int().describe('last keepalive, Unix s'),
  expires: z.number().int(),
  channels: z.number().int(),
  addtime: z.number().int(),
  uptime: z.number().int(),
});
export const sipSettingsSchema = z.object({
  server_id: z.string(),
  domain: z.string(),
  host: z.string(),
  port: z.number().int(),
  transports: z.array(z.string()),
  password: z.string(),
});
export const createdDeviceSchema = deviceSchema.extend({
  pwd: z.string().describe('the SIP password, returned only here'),
  sip: sipSettingsSchema,
});
export const channelSchema = z.object({
  channelid: z.string(),
  deviceid: z.string(),
  name: z.string(),
  memo: z.string(),
  manufacturer: z.string(),
  model: z.string(),
  owner: z.string(),
  civilcode: z.string(),
  address: z.string(),
  parental: z.number().int(),
  parentid: z.string(),
  safetyway: z.number().int(),
  registerway: z.number().int(),
  secrecy: z.number().int(),
  status: z.string(),
  active: z.number().int(),
  longitude: z.number(),
  latitude: z.number(),
  ptztype: z.number().int(),
  vf: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  fps: z.number().int(),
  streamtype: z.string(),
  url: z.string(),
  addtime: z.number().int(),
  uptime: z.number().int(),
});
export const streamSchema = z.object({
  streamid: z.string(),
  ssrc: z.string(),
  t: z.number().int(),
  deviceid: z.string(),
  channelid: z.string(),
  status: z.string(),
  start: z.number().int(),
  end: z.number().int(),
  stream: z.boolean(),
  viewers: z.number().int(),
  msg: z.string(),
  addtime: z.number().int(),
  uptime: z.number().int(),
  rtmp: z.string(),
  flv: z.string(),
  wsflv: z.string(),
  http: z.string(),
  live: z.record(z.string(), z.unknown()).optional().describe('figures of the running stream (packets, loss, viewers)'),
  transport: z.string().optional().describe('udp, tcp-passive or tcp-active (GET /streams/:id)'),
  port: z.number().int().optional().describe('receive port (GET /streams/:id)'),
  diagnosis: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('GET /streams/:id: SDP offered and answered, steps with timings, failed step, first packet time and source, packets, bytes, loss, last error'),
});
export const recordItemSchema = z.object({
  deviceid: z.string(),
  name: z.string(),
  filepath: z.string(),
  address: z.string(),
  start: z.number().int(),
  end: z.number().int(),
  secrecy: z.number().int(),
  type: z.string(),
  recorderid: z.string(),
  filesize: z.number(),
});
export const recordsSchema = z.object({
  daynum: z.number().int(),
  timenum: z.number().int(),
  list: z.array(z.object({ date: z.string(), items: z.array(z.object({ start: z.number().int(), end: z.number().int() })) })),
  items: z.array(recordItemSchema),
});

export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ total: z.number().int(), list: z.array(item) });
}
