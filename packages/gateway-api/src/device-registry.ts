// The database side of SIP signalling: device credentials for the digest, registration and
// presence changes and catalog results written to the devices/channels tables (keepalives in
// batches, never one write per MESSAGE), and the DeviceSignaling the REST API calls.
import type { Logger } from 'pino';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { In } from 'typeorm';
import type { CatalogItem, DeviceCredentials, DeviceCredentialStore, SipServer } from '@gb28181/sip-core';
import type { Config } from './config.ts';
import type { EventBus } from './events/event-bus.ts';
import type { DeviceSignaling } from './services.ts';
import { ChannelEntity, DeviceEntity, type ChannelRow, type DeviceRow } from './storage/entities.ts';

const KEEPALIVE_FLUSH_MS = 5000;
/** Channel status of a channel the device stopped listing (ON/OFF come from the device). */
export const VANISHED = 'VANISHED';
const CREDENTIALS_SQL = 'SELECT password, charset FROM devices WHERE deviceid = ?';
const REGISTRATION_BATCH = 200;
const nowS = () => Math.floor(Date.now() / 1000);

export function createCredentialStore(db: DataSource, config: Config): DeviceCredentialStore {
  const devices = () => db.getRepository<DeviceRow>(DeviceEntity);
  return {
    async lookup(deviceId: string): Promise<DeviceCredentials | null> {
      // A raw parameterised SELECT (`?` suits both SQLite and MariaDB/MySQL): building a typeorm
      // QueryBuilder per lookup cost more than the query itself during a registration storm.
      const rows = (await db.query(CREDENTIALS_SQL, [deviceId])) as { password: string | null; charset: string | null }[];
      const row = rows[0];
      if (!row) return null;
      const charset = row.charset === 'gb18030' || row.charset === 'utf-8' ? row.charset : 'auto';
      // Devices admitted by the 'open' policy carry no password of their own.
      return { deviceId, password: row.password || config.sipPassword || '', charset };
    },
    async create(deviceId: string): Promise<void> {
      const t = nowS();
      await devices()
        .createQueryBuilder()
        .insert()
        .values({ deviceid: deviceId, name: deviceId, password: '', addtime: t, uptime: t })
        .orIgnore()
        .execute();
    },
  };
}

export interface DeviceRegistry extends DeviceSignaling {
  close(): Promise<void>;
}

/** Keeps the devices/channels tables in step with what the SIP server sees. */
export function attachDeviceRegistry(o: { db: DataSource; sip: SipServer; config: Config; events: EventBus; logger?: Logger }): DeviceRegistry {
  const log = (o.logger ?? pino({ level: 'silent' })).child({ part: 'devices' });
  const devices = () => o.db.getRepository<DeviceRow>(DeviceEntity);
  const channels = () => o.db.getRepository<ChannelRow>(ChannelEntity);
  const pendingKeepalives = new Map<string, number>();
  const logFail = (what: string) => (err: unknown) => log.warn({ err }, `${what} not recorded`);

  // A registration storm is thousands of REGISTERs a second and each UPDATE commit rewrites the row's
  // pages and those of three indexes: the registrations of one event-loop turn go out as one statement.
  const pendingRegistrations = new Map<string, RegistrationRow>();
  let registrationFlush: NodeJS.Immediate | undefined;
  const flushRegistrations = () => {
    if (registrationFlush) clearImmediate(registrationFlush);
    registrationFlush = undefined;
    if (pendingRegistrations.size === 0) return;
    const rows = [...pendingRegistrations.values()];
    pendingRegistrations.clear();
    for (let k = 0; k < rows.length; k += REGISTRATION_BATCH) {
      const [sql, params] = registrationUpdate(rows.slice(k, k + REGISTRATION_BATCH));
      o.db.query(sql, params).catch(logFail('registration'));
    }
  };

  o.sip.on('registered', (d) => {
    const t = nowS();
    const expires = Math.max(0, Math.round((d.expiresAt - Date.now()) / 1000));
    pendingRegistrations.set(d.deviceId, { deviceid: d.deviceId, host: d.host, port: d.port, transport: d.transport, active: t, expires, uptime: t });
    registrationFlush ??= setImmediate(flushRegistrations);
    o.events.publish('devices.register', { deviceid: d.deviceId, host: d.host, port: d.port, transport: d.transport, refresh: d.refresh });
  });
  o.sip.on('online', (d) => {
    o.events.publish('devices.online', { deviceid: d.deviceId, host: d.host, port: d.port });
    // What the device says it is (shown in lists, needed to tell firmwares apart); once per coming online.
    o.sip
      .queryDeviceInfo(d.deviceId)
      .then((info) =>
        devices().update(
          { deviceid: d.deviceId },
          { manufacturer: (info.manufacturer ?? '').slice(0, 64), model: (info.model ?? '').slice(0, 64), firmware: (info.firmware ?? '').slice(0, 64) },
        ),
      )
      .catch(logFail('device info'));
  });
  o.sip.on('offline', (e) => {
    // The registration must not land after the offline that follows it.
    if (pendingRegistrations.has(e.deviceId)) flushRegistrations();
    devices().update({ deviceid: e.deviceId }, { online: false, regist: false, uptime: nowS() }).catch(logFail('offline'));
    o.events.publish('devices.offline', { deviceid: e.deviceId, reason: e.reason });
  });
  o.sip.on('keepalive', (e) => pendingKeepalives.set(e.deviceId, Math.floor(e.at / 1000)));
  const flush = setInterval(() => {
    if (pendingKeepalives.size === 0) return;
    const batch = [...pendingKeepalives];
    pendingKeepalives.clear();
    const at = Math.max(...batch.map(([, t]) => t));
    // Chunks keep each statement's bound parameters far below SQLite's and MySQL's limits.
    for (let k = 0; k < batch.length; k += 1000) {
      const ids = batch.slice(k, k + 1000).map(([id]) => id);
      devices().update({ deviceid: In(ids) }, { active: at, online: true }).catch(logFail('keepalives'));
    }
  }, KEEPALIVE_FLUSH_MS);
  flush.unref();

  // Upserts overwrite what the device reports and keep what was ours (addtime, memo, streamtype, url).
  const catalogColumns = [
    'deviceid', 'name', 'manufacturer', 'model', 'owner', 'civilcode', 'address', 'parental', 'parentid',
    'safetyway', 'registerway', 'secrecy', 'status', 'active', 'longitude', 'latitude', 'ptztype', 'uptime',
  ];
  const saveCatalog = async (deviceId: string, items: CatalogItem[], complete: boolean): Promise<number> => {
    const t = nowS();
    // Region (civil code) and group (215/216) nodes are stored with the channels so a client can
    // draw the device's tree from parentid; only the device itself is not a channel of its own.
    const listed = items.filter((i) => /^\d{2,20}$/.test(i.deviceId) && i.deviceId !== deviceId);
    const removed = listed.filter((i) => i.event === 'DEL').map((i) => i.deviceId);
    const rows = listed
      .filter((i) => i.event !== 'DEL')
      .map((i) => ({
        channelid: i.deviceId,
        deviceid: deviceId,
        name: (i.name ?? '').slice(0, 128),
        manufacturer: (i.manufacturer ?? '').slice(0, 64),
        model: (i.model ?? '').slice(0, 64),
        owner: (i.owner ?? '').slice(0, 64),
        civilcode: (i.civilCode ?? '').slice(0, 20),
        address: (i.address ?? '').slice(0, 255),
        parental: i.parental ?? 0,
        parentid: (i.parentId ?? '').slice(0, 64),
        safetyway: i.safetyWay ?? 0,
        registerway: i.registerWay ?? 1,
        secrecy: i.secrecy ?? 0,
        status: i.kind === 'channel' ? ((i.status ?? 'ON') as string) : 'ON',
        active: t,
        longitude: i.longitude ?? 0,
        latitude: i.latitude ?? 0,
        ptztype: i.ptzType ?? 0,
        addtime: t,
        uptime: t,
      }));
    // An IPC often lists no channel but itself: it is then its own channel.
    if (!rows.some((r) => r.channelid.length === 20) && items.some((i) => i.deviceId === deviceId)) {
      const self = items.find((i) => i.deviceId === deviceId)!;
      rows.push({ ...rowDefaults(deviceId, t), name: (self.name ?? deviceId).slice(0, 128) });
    }
    for (let k = 0; k < rows.length; k += 200) {
      await channels()
        .createQueryBuilder()
        .insert()
        .values(rows.slice(k, k + 200))
        .orUpdate(catalogColumns, ['channelid'])
        .updateEntity(false) // no generated ids to read back (updated rows have none on MySQL)
        .execute();
    }
    // Channels the device no longer lists (a complete answer to our query) or deleted by a NOTIFY
    // stay in the table, marked, so streams and records pointing at them still resolve.
    const vanished = complete
      ? channels()
          .createQueryBuilder()
          .update()
          .set({ status: VANISHED, uptime: t })
          .where('deviceid = :deviceId', { deviceId })
          .andWhere(rows.length ? 'channelid NOT IN (:...ids)' : '1 = 1', { ids: rows.map((r) => r.channelid) })
          .andWhere('status <> :vanished', { vanished: VANISHED })
          .execute()
      : removed.length
        ? channels().update({ deviceid: deviceId, channelid: In(removed) }, { status: VANISHED, uptime: t })
        : undefined;
    await vanished;
    const count = await channels().count({ where: { deviceid: deviceId } });
    await devices().update({ deviceid: deviceId }, { channels: count, uptime: t });
    o.events.publish('channels.update', { deviceid: deviceId, channels: count, channelids: rows.slice(0, 100).map((r) => r.channelid) });
    return count;
  };

  // The save started by a query's `catalog` event, so an API sync waits for it instead of saving twice.
  const savingCatalog = new Map<string, Promise<number>>();
  o.sip.on('catalog', (e) => {
    const saving = saveCatalog(e.deviceId, e.items, e.complete);
    savingCatalog.set(e.deviceId, saving);
    saving.catch(logFail('catalog')).finally(() => savingCatalog.get(e.deviceId) === saving && savingCatalog.delete(e.deviceId));
  });

  return {
    async syncCatalog(deviceId: string): Promise<number> {
      await o.sip.queryCatalog(deviceId);
      return (await savingCatalog.get(deviceId)) ?? 0;
    },
    forget: (deviceId) => o.sip.forget(deviceId),
    setCharset: (deviceId, charset) => o.sip.setCharset(deviceId, charset),
    sipSettings: () => ({
      server_id: o.config.serverId,
      domain: o.config.domain,
      host: o.config.sipPublicIp,
      port: o.sip.port,
      transports: ['udp', 'tcp'],
    }),
    async close() {
      flushRegistrations();
      clearInterval(flush);
    },
  };
}

interface RegistrationRow {
  deviceid: string;
  host: string;
  port: number;
  transport: string;
  active: number;
  expires: number;
  uptime: number;
}

const REGISTRATION_COLUMNS = ['host', 'port', 'transport', 'active', 'expires', 'uptime'] as const;

/**
 * One parameterised UPDATE for many devices (CASE per column, valid on SQLite and MariaDB/MySQL);
 * booleans written as 1, as typeorm stores them.
 */
export function registrationUpdate(rows: RegistrationRow[]): [string, (string | number)[]] {
  const params: (string | number)[] = [];
  const whens = rows.map(() => 'WHEN ? THEN ?').join(' ');
  const sets = REGISTRATION_COLUMNS.map((c) => {
    for (const r of rows) params.push(r.deviceid, r[c]);
    return `${c} = CASE deviceid ${whens} END`;
  });
  for (const r of rows) params.push(r.deviceid);
  const sql = `UPDATE devices SET ${sets.join(', ')}, regist = 1, online = 1 WHERE deviceid IN (${rows.map(() => '?').join(', ')})`;
  return [sql, params];
}

function rowDefaults(deviceId: string, t: number) {
  return {
    channelid: deviceId, deviceid: deviceId, name: deviceId, manufacturer: '', model: '', owner: '', civilcode: '', address: '',
    parental: 0, parentid: '', safetyway: 0, registerway: 1, secrecy: 0, status: 'ON', active: t, longitude: 0, latitude: 0, ptztype: 0,
    addtime: t, uptime: t,
  };
}
