// Messages between the main thread (list-worker-client.ts) and the list worker (list-worker.ts).
import type { ApiErrorKind } from './errors.ts';
import type { ListQuery } from './schemas.ts';

export type ListResourceName = 'devices' | 'channels' | 'streams';

export interface ListWorkerData {
  /** the SQLite file the gateway's DataSource writes */
  file: string;
}

export interface ListRequest {
  id: number;
  resource: ListResourceName;
  query: ListQuery;
  scope: Record<string, string>;
}

export type ListReply =
  | { ready: true }
  | { id: number; text: string }
  /** `kind` for ApiErrors (a bad filter is a 400 either way); `code` for the storage guard (SQLITE_BUSY …) */
  | { id: number; error: { name: string; message: string; kind?: ApiErrorKind; code?: string } };
