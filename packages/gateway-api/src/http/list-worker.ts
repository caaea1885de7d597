// Entry point of the list worker thread (started by list-worker-client.ts): answers list pages on
// its own read connection to the gateway's SQLite file, so parsing filters, the page SQL and the
// JSON SQLite writes run beside the main thread's HTTP, SIP and media work instead of between it.
// WAL lets this connection read while the main thread writes; each read sees what was committed.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { sqliteRead, type SqliteConnection } from '../storage/sql-reader.ts';
import { ApiError } from './errors.ts';
import { JsonText } from './json-text.ts';
import { listFrom, sqliteListSource } from './list-query.ts';
import type { ListReply, ListRequest, ListWorkerData } from './list-worker-protocol.ts';
import { channelResource, deviceResource, streamResource } from './resources.ts';

const port = parentPort;
if (!port) throw new Error('list-worker.ts runs as a worker thread (see list-worker-client.ts)');
const { file } = workerData as ListWorkerData;
// better-sqlite3 ships no types; this is the part used here.
const Database = createRequire(import.meta.url)('better-sqlite3') as new (
  file: string,
  options: { fileMustExist: boolean; timeout: number },
) => SqliteConnection & { pragma(sql: string): unknown };
const db = new Database(file, { fileMustExist: true, timeout: 5000 });
// This connection only reads: a bug here must not be able to write.
db.pragma('query_only = ON');
const source = sqliteListSource(sqliteRead(db));
const resources = { devices: deviceResource, channels: channelResource, streams: streamResource };

const reply = (m: ListReply) => port.postMessage(m);

port.on('message', async (req: ListRequest) => {
  try {
    const page = await listFrom(source, resources[req.resource], req.query, req.scope);
    reply({ id: req.id, text: page instanceof JsonText ? page.text : JSON.stringify(page) });
  } catch (err) {
    const e = err as Error & { code?: unknown };
    reply({
      id: req.id,
      error: { name: e.name, message: e.message, kind: err instanceof ApiError ? err.kind : undefined, code: typeof e.code === 'string' ? e.code : undefined },
    });
  }
});
reply({ ready: true });
