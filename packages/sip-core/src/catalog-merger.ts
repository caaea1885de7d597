// Catalog and RecordInfo answers arrive split over many MESSAGEs (NVRs: often one item each).
// These collectors merge them until SumNum distinct items are in, dropping duplicates.
import { child, children, float, int, text1, type ManscdpMessage, type XmlNode } from './manscdp-codec.ts';
import type { CatalogItem, RecordItem } from './types.ts';

/** Collects the answer messages of one query; `add` says whether the answer is complete. */
export interface Collector<T> {
  add(m: ManscdpMessage): boolean;
  /** Whether anything arrived (a timeout with nothing is an error, with something a partial result). */
  readonly received: boolean;
  result(complete: boolean): T;
}

export function itemKind(id: string): CatalogItem['kind'] {
  if (/^\d{2,8}$/.test(id)) return 'region';
  if (id.length === 20) {
    const type = id.slice(10, 13);
    if (type === '215' || type === '216') return 'group';
  }
  return 'channel';
}

function status(v: string | undefined): 'ON' | 'OFF' | undefined {
  if (!v) return undefined;
  const s = v.toUpperCase();
  if (s === 'ON' || s === 'ONLINE' || s === 'OK') return 'ON';
  if (s === 'OFF' || s === 'OFFLINE') return 'OFF';
  return undefined;
}

export function parseCatalogItem(n: XmlNode): CatalogItem | undefined {
  const deviceId = text1(n, 'deviceid');
  if (!deviceId) return undefined;
  const item: CatalogItem = { deviceId, kind: itemKind(deviceId) };
  const set = <K extends keyof CatalogItem>(k: K, v: CatalogItem[K] | undefined) => {
    if (v !== undefined) item[k] = v;
  };
  set('name', text1(n, 'name'));
  set('manufacturer', text1(n, 'manufacturer'));
  set('model', text1(n, 'model'));
  set('owner', text1(n, 'owner'));
  set('civilCode', text1(n, 'civilcode'));
  set('block', text1(n, 'block'));
  set('address', text1(n, 'address'));
  set('parental', int(n, 'parental'));
  set('parentId', text1(n, 'parentid'));
  set('businessGroupId', text1(n, 'businessgroupid'));
  set('safetyWay', int(n, 'safetyway'));
  set('registerWay', int(n, 'registerway'));
  set('certNum', text1(n, 'certnum'));
  set('certifiable', int(n, 'certifiable'));
  set('errCode', int(n, 'errcode'));
  set('endTime', text1(n, 'endtime'));
  set('secrecy', int(n, 'secrecy'));
  set('ipAddress', text1(n, 'ipaddress'));
  set('port', int(n, 'port'));
  set('password', text1(n, 'password'));
  set('status', status(text1(n, 'status')));
  set('longitude', float(n, 'longitude'));
  set('latitude', float(n, 'latitude'));
  set('ptzType', int(child(n, 'info'), 'ptztype') ?? int(n, 'ptztype'));
  set('event', text1(n, 'event')?.toUpperCase());
  return item;
}

export function catalogItems(m: ManscdpMessage): CatalogItem[] {
  const out: CatalogItem[] = [];
  for (const list of children(m.body, 'devicelist')) {
    for (const n of children(list, 'item')) {
      const item = parseCatalogItem(n);
      if (item) out.push(item);
    }
  }
  return out;
}

export interface CatalogMerge {
  items: CatalogItem[];
  sumNum: number;
  complete: boolean;
}

export class CatalogCollector implements Collector<CatalogMerge> {
  readonly #items = new Map<string, CatalogItem>();
  #sumNum = -1;
  received = false;

  add(m: ManscdpMessage): boolean {
    this.received = true;
    const sum = int(m.body, 'sumnum');
    if (sum !== undefined && sum >= 0) this.#sumNum = Math.max(this.#sumNum, sum);
    for (const item of catalogItems(m)) this.#items.set(item.deviceId, item);
    return this.#sumNum >= 0 && this.#items.size >= this.#sumNum;
  }

  result(complete: boolean): CatalogMerge {
    return { items: [...this.#items.values()], sumNum: Math.max(this.#sumNum, 0), complete };
  }
}

export function parseRecordItem(n: XmlNode): RecordItem | undefined {
  const startTime = text1(n, 'starttime');
  const endTime = text1(n, 'endtime');
  if (!startTime || !endTime) return undefined;
  const item: RecordItem = { deviceId: text1(n, 'deviceid') ?? '', startTime, endTime };
  const name = text1(n, 'name');
  const filePath = text1(n, 'filepath');
  const address = text1(n, 'address');
  const secrecy = int(n, 'secrecy');
  const type = text1(n, 'type');
  const recorderId = text1(n, 'recorderid');
  const fileSize = int(n, 'filesize');
  if (name !== undefined) item.name = name;
  if (filePath !== undefined) item.filePath = filePath;
  if (address !== undefined) item.address = address;
  if (secrecy !== undefined) item.secrecy = secrecy;
  if (type !== undefined) item.type = type;
  if (recorderId !== undefined) item.recorderId = recorderId;
  if (fileSize !== undefined) item.fileSize = fileSize;
  return item;
}

export class RecordCollector implements Collector<RecordItem[]> {
  readonly #items = new Map<string, RecordItem>();
  #sumNum = -1;
  received = false;

  add(m: ManscdpMessage): boolean {
    this.received = true;
    const sum = int(m.body, 'sumnum');
    if (sum !== undefined && sum >= 0) this.#sumNum = Math.max(this.#sumNum, sum);
    for (const list of children(m.body, 'recordlist')) {
      for (const n of children(list, 'item')) {
        const item = parseRecordItem(n);
        if (item) this.#items.set(`${item.deviceId}|${item.startTime}|${item.endTime}|${item.filePath ?? ''}|${item.type ?? ''}`, item);
      }
    }
    return this.#sumNum >= 0 && this.#items.size >= this.#sumNum;
  }

  result(): RecordItem[] {
    return [...this.#items.values()];
  }
}

/** Single-message answers (DeviceInfo, DeviceStatus). */
export class SingleCollector<T> implements Collector<T> {
  #value: T | undefined;
  received = false;
  constructor(private readonly read: (m: ManscdpMessage) => T) {}
  add(m: ManscdpMessage): boolean {
    this.received = true;
    this.#value = this.read(m);
    return true;
  }
  result(): T {
    return this.#value!;
  }
}
