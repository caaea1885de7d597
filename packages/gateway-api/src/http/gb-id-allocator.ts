// Allocates GB ids (`<10-digit domain><3-digit type><network digit><6-digit serial>`) for devices
// and channels created through the API. The table's unique key is the guarantee; the in-process
// queue and the shared counter only make collisions rare, and a collision is retried.
import type { DataSource } from 'typeorm';
import { ApiError, isUniqueViolation } from './errors.ts';

/** SharedState.incr: a counter shared by every gateway process (Redis in a cluster). */
export interface SerialCounter {
  incr(key: string): Promise<number>;
}

export interface GbIdAllocator {
  /** Runs `insert` with fresh ids until one is accepted by the unique key. */
  allocate<T>(prefix: string, table: 'devices' | 'channels', insert: (id: string) => Promise<T>): Promise<T>;
}

const maxSerial = 999_999;
const maxAttempts = 50;

export function createGbIdAllocator(o: { dataSource: DataSource; counter?: SerialCounter }): GbIdAllocator {
  const lastUsed = new Map<string, number>();
  let queue: Promise<unknown> = Promise.resolve();

  async function dbMax(prefix: string, table: 'devices' | 'channels'): Promise<number> {
    const column = table === 'devices' ? 'deviceid' : 'channelid';
    const row = (await o.dataSource
      .createQueryBuilder()
      .select(`MAX(t.${column})`, 'm')
      .from(table, 't')
      .where(`t.${column} LIKE :p`, { p: `${prefix}%` })
      .andWhere(`LENGTH(t.${column}) = 20`)
      .getRawOne()) as { m: string | null } | undefined;
    return row?.m ? Number(row.m.slice(14)) : 0;
  }

  async function candidate(prefix: string, table: 'devices' | 'channels', afterCollision: boolean): Promise<number> {
    const key = `${table}:${prefix}`;
    let floor = lastUsed.get(key);
    if (floor === undefined || afterCollision) floor = Math.max(floor ?? 0, await dbMax(prefix, table));
    let serial = floor + 1;
    if (o.counter) serial = Math.max(serial, await o.counter.incr(`gbid:${key}`));
    if (serial > maxSerial) throw new ApiError('conflict', `no free GB id left under ${prefix}`);
    lastUsed.set(key, serial);
    return serial;
  }

  async function run<T>(prefix: string, table: 'devices' | 'channels', insert: (id: string) => Promise<T>): Promise<T> {
    if (!/^\d{14}$/.test(prefix)) throw new TypeError('GB id prefix must be 14 digits');
    let collided = false;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const serial = await candidate(prefix, table, collided);
      try {
        return await insert(prefix + String(serial).padStart(6, '0'));
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        collided = true; // another process took it: re-read the table's maximum
      }
    }
    throw new ApiError('conflict', 'could not allocate a unique GB id, try again');
  }

  return {
    allocate<T>(prefix: string, table: 'devices' | 'channels', insert: (id: string) => Promise<T>): Promise<T> {
      // One allocation at a time per process, so parallel requests here never race each other.
      const result = queue.then(() => run(prefix, table, insert));
      queue = result.catch(() => undefined);
      return result;
    },
  };
}
