import { Table, TableIndex, type MigrationInterface, type QueryRunner, type TableColumnOptions } from 'typeorm';

// Written with the QueryRunner API, not generated SQL: typeorm renders it for SQLite and for
// MySQL/MariaDB alike. Columns mirror packages/gateway-api/src/storage/entities.ts.

const id: TableColumnOptions = { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' };
const str = (name: string, length: number, def = ''): TableColumnOptions => ({ name, type: 'varchar', length: String(length), default: `'${def}'` });
const int = (name: string, def = 0): TableColumnOptions => ({ name, type: 'integer', default: String(def) });
const big = (name: string): TableColumnOptions => ({ name, type: 'bigint', default: '0' });
const bool = (name: string): TableColumnOptions => ({ name, type: 'boolean', default: '0' });
const real = (name: string): TableColumnOptions => ({ name, type: 'double', default: '0' });
const text = (name: string): TableColumnOptions => ({ name, type: 'text', isNullable: true });

const indexes = (table: string, columns: string[]) =>
  columns.map((c) => new TableIndex({ name: `IDX_${table}_${c}`, columnNames: [c] }));

export class InitialSchema1732406400000 implements MigrationInterface {
  name = 'InitialSchema1732406400000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'devices',
        columns: [
          id, str('deviceid', 20), str('name', 128), str('region', 20), str('host', 64), int('port'),
          str('transport', 8, 'udp'), str('manufacturer', 64), str('model', 64), str('firmware', 64),
          str('charset', 16, 'auto'), str('stream_mode', 16, 'tcp-passive'), bool('online'), bool('regist'),
          big('active'), int('expires'), int('channels'), str('password', 64), big('addtime'), big('uptime'),
        ],
        uniques: [{ name: 'UQ_devices_deviceid', columnNames: ['deviceid'] }],
        indices: indexes('devices', ['name', 'online', 'addtime', 'uptime', 'host']),
      }),
      true,
    );
    await q.createTable(
      new Table({
        name: 'channels',
        columns: [
          id, str('channelid', 20), str('deviceid', 20), str('name', 128), str('memo', 255),
          str('manufacturer', 64), str('model', 64), str('owner', 64), str('civilcode', 20), str('address', 255),
          int('parental'), str('parentid', 64), int('safetyway'), int('registerway', 1), int('secrecy'),
          str('status', 8, 'OFF'), big('active'), real('longitude'), real('latitude'), int('ptztype'),
          str('vf', 16), int('width'), int('height'), int('fps'), str('streamtype', 8, 'push'), str('url', 1024),
          big('addtime'), big('uptime'),
        ],
        uniques: [{ name: 'UQ_channels_channelid', columnNames: ['channelid'] }],
        indices: indexes('channels', ['deviceid', 'status', 'name', 'parentid', 'addtime']),
      }),
      true,
    );
    await q.createTable(
      new Table({
        name: 'streams',
        columns: [
          id, str('streamid', 16), str('ssrc', 10), int('t'), str('deviceid', 20), str('channelid', 20),
          str('status', 16, 'opening'), big('start'), big('end'), bool('stream'), int('viewers'), str('msg', 512),
          str('transport', 16, 'udp'), int('port'), str('node', 64), text('dialog'), text('diagnosis'),
          big('addtime'), big('uptime'),
        ],
        uniques: [{ name: 'UQ_streams_streamid', columnNames: ['streamid'] }],
        indices: indexes('streams', ['deviceid', 'channelid', 'status', 't', 'addtime']),
      }),
      true,
    );
    for (const t of ['devices', 'channels', 'streams']) await this.utf8mb4(q, t);
  }

  /** Chinese names from catalogs need 4-byte UTF-8 whatever the server's default charset is. */
  private async utf8mb4(q: QueryRunner, table: string): Promise<void> {
    const type = q.connection.options.type;
    if (type === 'mysql' || type === 'mariadb') {
      await q.query(`ALTER TABLE \`${table}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('streams', true);
    await q.dropTable('channels', true);
    await q.dropTable('devices', true);
  }
}
