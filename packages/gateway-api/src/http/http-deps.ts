// What createHttpApp needs from the composition root; routes receive it with defaults filled in.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { EventBus } from '../events/event-bus.ts';
import type { DeviceSignaling, PlayService, RecordService } from '../services.ts';
import type { GbIdAllocator, SerialCounter } from './gb-id-allocator.ts';

export interface HttpConfig {
  apiTokens: string[];
  apiAuth: boolean;
  serverId: string;
  /** Fallbacks for the settings returned on device creation when no DeviceSignaling is wired. */
  sipPublicIp?: string;
  sipPort?: number;
}

export interface HttpDeps {
  dataSource: DataSource;
  config: HttpConfig;
  play?: PlayService;
  records?: RecordService;
  signaling?: DeviceSignaling;
  events: EventBus;
  /** false = storage known down: answer 503 "1001" without trying. */
  storageUp?: () => boolean;
  /** A request failed on the database: lets the storage guard mark it down at once. */
  onStorageError?: (err: unknown) => void;
  /** The platform's health report; `status: 'ok' | 'degraded'` decides 200 or 503. */
  health?: () => Promise<object>;
  /** SharedState.incr, for GB id serials shared across gateway processes. */
  counter?: SerialCounter;
  metrics?: Registry;
  logger?: Logger;
  /** Read SQLite list pages in a worker thread (list-worker.ts); default true, no effect on MySQL. */
  listWorker?: boolean;
}

export interface RouteDeps extends HttpDeps {
  logger: Logger;
  allocator: GbIdAllocator;
}
