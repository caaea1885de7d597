import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { RecordItem, RecordService, RecordsResult } from '../services.ts';
import { resolveChannel } from './channel-directory.ts';
import type { PlayRecordInfoItem, PlaySignaling } from './play-dependencies.ts';
import { NotFoundError, PlayError } from './play-errors.ts';
import { buildTimeline } from './records-merge.ts';

export interface RecordsOptions {
  db: DataSource;
  sip: Pick<PlaySignaling, 'queryRecordInfo' | 'device'>;
  /** GB_RECORDS_TIMEOUT_S: the longest a query waits for the device's answers. */
  timeoutS: number;
  logger?: Logger;
}

/** RecordInfo → merged timeline. Identical queries running at the same time share one device query. */
export class Records implements RecordService {
  readonly #o: RecordsOptions;
  readonly #log: Logger;
  readonly #inflight = new Map<string, Promise<RecordsResult>>();

  constructor(o: RecordsOptions) {
    this.#o = o;
    this.#log = o.logger ?? pino({ level: 'silent' });
  }

  query(channelId: string, start: number, end: number): Promise<RecordsResult> {
    if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) {
      return Promise.reject(new PlayError('start and end must be Unix seconds with start < end', { status: 400, step: 'records' }));
    }
    const key = `${channelId}|${start}|${end}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#query(channelId, start, end).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  async #query(channelId: string, start: number, end: number): Promise<RecordsResult> {
    const target = await resolveChannel(this.#o.db, channelId);
    if (!target) throw new NotFoundError(`channel ${channelId} not found`);
    if (!this.#o.sip.device(target.deviceId)) {
      throw new PlayError(`device ${target.deviceId} is offline`, { status: 409, step: 'records' });
    }
    let raw: PlayRecordInfoItem[];
    try {
      raw = await this.#o.sip.queryRecordInfo(target.deviceId, channelId, new Date(start * 1000), new Date(end * 1000), {
        timeoutMs: this.#o.timeoutS * 1000,
      });
    } catch (err) {
      this.#log.warn({ err, channelId }, 'RecordInfo query failed');
      throw new PlayError(`device did not answer RecordInfo within ${this.#o.timeoutS} s`, { status: 504, step: 'records', cause: err });
    }
    const items = raw.map(toRecordItem).filter((i): i is RecordItem => i !== null);
    items.sort((a, b) => a.start - b.start || a.end - b.end);
    return { ...buildTimeline(items, start, end), items };
  }
}

function pick(item: PlayRecordInfoItem, ...names: string[]): unknown {
  const o = item as Record<string, unknown>;
  for (const n of names) if (o[n] !== undefined && o[n] !== null) return o[n];
  return undefined;
}

function str(v: unknown): string {
  return v === undefined ? '' : String(v).trim();
}

/** Unix seconds from a Date, a number (s or ms) or a device's local `YYYY-MM-DDTHH:MM:SS`. */
export function toUnixSeconds(v: unknown): number {
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (typeof v === 'number') return v > 1e11 ? Math.floor(v / 1000) : Math.floor(v);
  if (typeof v === 'string') {
    const m = /^\s*(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2}):(\d{1,2})/.exec(v);
    if (m) return Math.floor(new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]).getTime() / 1000);
    if (/^\s*\d+\s*$/.test(v)) return toUnixSeconds(Number(v));
  }
  return NaN;
}

/** sip-core's item (camelCase) or raw MANSCDP fields (PascalCase) → the API's record item. */
export function toRecordItem(o: PlayRecordInfoItem): RecordItem | null {
  const start = toUnixSeconds(pick(o, 'start', 'startTime', 'StartTime'));
  const end = toUnixSeconds(pick(o, 'end', 'endTime', 'EndTime'));
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) return null;
  return {
    deviceid: str(pick(o, 'deviceId', 'DeviceID', 'deviceid')),
    name: str(pick(o, 'name', 'Name')),
    filepath: str(pick(o, 'filePath', 'FilePath', 'filepath')),
    address: str(pick(o, 'address', 'Address')),
    start,
    end,
    secrecy: Number(pick(o, 'secrecy', 'Secrecy') ?? 0) || 0,
    type: str(pick(o, 'type', 'Type')),
    recorderid: str(pick(o, 'recorderId', 'RecorderID', 'recorderid')),
    filesize: Number(pick(o, 'fileSize', 'FileSize', 'filesize') ?? 0) || 0,
  };
}
