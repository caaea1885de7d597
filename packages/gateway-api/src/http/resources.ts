// The public fields of each listed resource with their types: the whitelist that filters, sort and
// output all draw from. A column missing here cannot be filtered, sorted on or returned (password).

export type FieldType = 'string' | 'int' | 'number' | 'bool';

export interface ResourceFields {
  readonly name: string;
  readonly fields: Readonly<Record<string, FieldType>>;
  /**
   * Fields whose values split the table in a few large parts (ON/OFF). An index on them makes
   * SQLite sort most of the table instead of walking the sort column's index; see list-query.ts.
   */
  readonly lowCardinality?: readonly string[];
  /** (filter column, sort column) pairs with a compound index (migrations/): the planner may use those. */
  readonly compoundIndexes?: readonly (readonly [string, string])[];
}

export const deviceResource: ResourceFields = {
  name: 'devices',
  fields: {
    deviceid: 'string',
    name: 'string',
    region: 'string',
    host: 'string',
    port: 'int',
    transport: 'string',
    manufacturer: 'string',
    model: 'string',
    firmware: 'string',
    charset: 'string',
    stream_mode: 'string',
    online: 'bool',
    regist: 'bool',
    active: 'int',
    expires: 'int',
    channels: 'int',
    addtime: 'int',
    uptime: 'int',
  },
  lowCardinality: ['online', 'regist', 'transport', 'charset', 'stream_mode'],
  compoundIndexes: [['online', 'addtime']],
};

export const channelResource: ResourceFields = {
  name: 'channels',
  fields: {
    channelid: 'string',
    deviceid: 'string',
    name: 'string',
    memo: 'string',
    manufacturer: 'string',
    model: 'string',
    owner: 'string',
    civilcode: 'string',
    address: 'string',
    parental: 'int',
    parentid: 'string',
    safetyway: 'int',
    registerway: 'int',
    secrecy: 'int',
    status: 'string',
    active: 'int',
    longitude: 'number',
    latitude: 'number',
    ptztype: 'int',
    vf: 'string',
    width: 'int',
    height: 'int',
    fps: 'int',
    streamtype: 'string',
    url: 'string',
    addtime: 'int',
    uptime: 'int',
  },
  lowCardinality: ['status', 'streamtype', 'parental', 'ptztype', 'secrecy', 'safetyway', 'registerway'],
  compoundIndexes: [['status', 'name'], ['deviceid', 'addtime']],
};

// No lowCardinality for streams: `status = 'playing'` is the selective part of that table.
export const streamResource: ResourceFields = {
  name: 'streams',
  fields: {
    streamid: 'string',
    ssrc: 'string',
    t: 'int',
    deviceid: 'string',
    channelid: 'string',
    status: 'string',
    start: 'int',
    end: 'int',
    stream: 'bool',
    viewers: 'int',
    msg: 'string',
    addtime: 'int',
    uptime: 'int',
  },
};

/** Copies only whitelisted fields: rows never leak columns the API does not document. */
export function pickPublic(resource: ResourceFields, row: object): Record<string, unknown> {
  const src = row as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [field, type] of Object.entries(resource.fields)) {
    const v = src[field];
    out[field] = type === 'bool' ? Boolean(v) : v;
  }
  return out;
}
