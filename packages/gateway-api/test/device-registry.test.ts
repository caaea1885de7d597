// The database side of signalling: a real sip-core server, a device speaking real SIP/MANSCDP over
// UDP, and the devices/channels tables on SQLite and MariaDB.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DataSource } from 'typeorm';
import { createSipServer, type SipServer } from '@gb28181/sip-core';
import { TestDevice, bodyText, xmlField } from '../../sip-core/test/helpers/test-device.ts';
import { attachDeviceRegistry, createCredentialStore, VANISHED, type DeviceRegistry } from '../src/device-registry.ts';
import { EventBus } from '../src/events/event-bus.ts';
import { ChannelEntity, DeviceEntity, type ChannelRow } from '../src/storage/entities.ts';
import { forEachDatabase } from './support/databases.ts';
import { testConfig } from './support/platform-config.ts';
import { until } from './support/until.ts';

const DEVICE = '34020000001180000001'; // an NVR
const PASSWORD = 'nvr-pass-123';
const REGION = '340200';
const GROUP = '34020000002160000001';
const CH = (n: number) => `3402000000131000000${n}`;

const item = (id: string, extra = '') => `<Item><DeviceID>${id}</DeviceID><Name>通道 ${id.slice(-3)}</Name>${extra}</Item>`;
const catalogXml = (sn: string, sum: number, items: string[], root = 'Response', cmd = 'Catalog') =>
  `<?xml version="1.0" encoding="GB2312"?>\r\n<${root}>\r\n<CmdType>${cmd}</CmdType>\r\n<SN>${sn}</SN>\r\n<DeviceID>${DEVICE}</DeviceID>\r\n` +
  `<SumNum>${sum}</SumNum>\r\n<DeviceList Num="${items.length}">\r\n${items.join('\r\n')}\r\n</DeviceList>\r\n</${root}>\r\n`;

forEachDatabase((name, makeDataSource) => {
  describe(`device registry on ${name}`, () => {
    let db: DataSource;
    let sip: SipServer;
    let registry: DeviceRegistry;
    let dev: TestDevice;
    const events = new EventBus();
    const channelsOf = async () =>
      (await db.getRepository<ChannelRow>(ChannelEntity).find({ where: { deviceid: DEVICE }, order: { channelid: 'ASC' } })).map((c) => [c.channelid, c.status, c.parentid]);

    before(async () => {
      db = await makeDataSource();
      const t = 1_700_000_000;
      await db.getRepository(DeviceEntity).insert({ deviceid: DEVICE, name: 'nvr', password: PASSWORD, addtime: t, uptime: t });
      const config = testConfig({ dataDir: '/nonexistent' });
      sip = await createSipServer({
        serverId: config.serverId,
        host: '127.0.0.1',
        port: 0,
        publicIp: '127.0.0.1',
        registerPolicy: 'known',
        keepaliveTimeoutS: 180,
        nonceSecret: 'test-secret-0123456789',
        credentials: createCredentialStore(db, config),
        catalogOnRegister: false,
      });
      registry = attachDeviceRegistry({ db, sip, config, events });
      dev = await TestDevice.open({ deviceId: DEVICE, password: PASSWORD, serverPort: sip.port });
      // DeviceInfo is asked when the device comes online: answer it like an NVR would.
      const infoAnswered = (async () => {
        const q = await dev.nextRequest('MESSAGE');
        const sn = xmlField(bodyText(q), 'SN')!;
        await dev.message(
          `<?xml version="1.0" encoding="GB2312"?><Response><CmdType>DeviceInfo</CmdType><SN>${sn}</SN><DeviceID>${DEVICE}</DeviceID>` +
            `<Result>OK</Result><Manufacturer>海康威视</Manufacturer><Model>DS-7808N</Model><Firmware>V4.1</Firmware><Channel>3</Channel></Response>`,
        );
      })();
      assert.equal((await dev.register()).status, 200);
      await infoAnswered;
    });

    after(async () => {
      await dev?.close();
      await registry?.close();
      await sip?.close();
    });

    test('registration and DeviceInfo land on the device row (GB2312 decoded)', async () => {
      const row = await until(
        async () => {
          const r = await db.getRepository(DeviceEntity).findOneByOrFail({ deviceid: DEVICE });
          return r.online && r.manufacturer ? r : undefined;
        },
        5000,
        'device row updated',
      );
      assert.deepEqual([row.host, row.transport, row.regist, row.manufacturer, row.model, row.firmware], ['127.0.0.1', 'udp', true, '海康威视', 'DS-7808N', 'V4.1']);
    });

    test('syncCatalog() stores channels with their region and group nodes, and keeps addtime on a re-sync', async () => {
      const sync = registry.syncCatalog(DEVICE);
      const sn = xmlField(bodyText(await dev.nextRequest('MESSAGE')), 'SN')!;
      const items = [
        item(REGION),
        item(GROUP, `<ParentID>${REGION}</ParentID>`),
        item(CH(1), `<ParentID>${GROUP}</ParentID><Status>ON</Status>`),
        item(CH(2), `<ParentID>${GROUP}</ParentID><Status>OFF</Status>`),
        item(CH(3), `<ParentID>${GROUP}</ParentID><Status>ON</Status>`),
      ];
      // one item per message, as NVRs do
      for (const i of items) await dev.message(catalogXml(sn, items.length, [i]));
      assert.equal(await sync, 5);
      assert.deepEqual(await channelsOf(), [
        [REGION, 'ON', ''],
        [CH(1), 'ON', GROUP],
        [CH(2), 'OFF', GROUP],
        [CH(3), 'ON', GROUP],
        [GROUP, 'ON', REGION],
      ]);
      const repo = db.getRepository<ChannelRow>(ChannelEntity);
      await repo.update({ channelid: CH(1) }, { addtime: 1_600_000_000, memo: 'gate' });

      const again = registry.syncCatalog(DEVICE);
      const sn2 = xmlField(bodyText(await dev.nextRequest('MESSAGE')), 'SN')!;
      await dev.message(catalogXml(sn2, items.length, items));
      assert.equal(await again, 5);
      const ch1 = await repo.findOneByOrFail({ channelid: CH(1) });
      assert.deepEqual([ch1.addtime, ch1.memo], [1_600_000_000, 'gate'], 'device data is upserted, ours is kept');
    });

    test('a complete catalog without a channel marks it VANISHED; a NOTIFY DEL marks one too', async () => {
      const sync = registry.syncCatalog(DEVICE);
      const sn = xmlField(bodyText(await dev.nextRequest('MESSAGE')), 'SN')!;
      const kept = [item(REGION), item(GROUP, `<ParentID>${REGION}</ParentID>`), item(CH(1), `<ParentID>${GROUP}</ParentID>`), item(CH(3), `<ParentID>${GROUP}</ParentID>`)];
      await dev.message(catalogXml(sn, kept.length, kept));
      assert.equal(await sync, 5, 'vanished channels stay in the table');
      assert.equal((await db.getRepository<ChannelRow>(ChannelEntity).findOneByOrFail({ channelid: CH(2) })).status, VANISHED);

      await dev.message(catalogXml('99', 1, [item(CH(3), '<Event>DEL</Event>')], 'Notify'));
      await until(
        async () => ((await db.getRepository<ChannelRow>(ChannelEntity).findOneByOrFail({ channelid: CH(3) })).status === VANISHED ? true : undefined),
        5000,
        'CH3 marked by the DEL notify',
      );
      assert.equal((await db.getRepository<ChannelRow>(ChannelEntity).findOneByOrFail({ channelid: CH(1) })).status, 'ON', 'a partial NOTIFY marks nothing else');
    });
  });
});
