import type { DataSource } from 'typeorm';
import { In } from 'typeorm';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { StreamEntity, type StreamRow } from '../storage/entities.ts';
import type { PlayEventSink, PlayMedia, PlayMediaStream, PlaySignaling, StreamTransport } from './play-dependencies.ts';
import { newDiagnosis, type StreamDiagnosis } from './stream-diagnosis.ts';
import type { StreamManager } from './stream-manager.ts';

// After a restart (a crash included) the database may list streams this node had open. Each one is
// either re-attached - its receive port re-opened and the device found still sending - or hung up
// with a BYE from the saved dialog and marked closed. None is left behind as an orphan.

export interface ReconcileOptions {
  db: DataSource;
  sip: Pick<PlaySignaling, 'restoreDialog'>;
  media: PlayMedia;
  manager: StreamManager;
  nodeId: string;
  /**
   * Only gateway in the deployment (no Redis): every open row is ours, whatever node id an earlier
   * run wrote (a container's hostname changes when it is recreated). Default false.
   */
  singleNode?: boolean;
  /** How long to wait for the device's packets on a re-opened port. Default 5000 ms. */
  waitMs?: number;
  events?: PlayEventSink;
  logger?: Logger;
}

export interface ReconcileResult {
  reattached: string[];
  closed: string[];
}

export async function reconcileStreams(o: ReconcileOptions): Promise<ReconcileResult> {
  const log = (o.logger ?? pino({ level: 'silent' })).child({ part: 'reconcile' });
  const repo = o.db.getRepository<StreamRow>(StreamEntity);
  const open = { status: In(['opening', 'playing']) };
  const rows = await repo.find({ where: o.singleNode ? open : { ...open, node: In([o.nodeId, '']) } });
  const result: ReconcileResult = { reattached: [], closed: [] };
  await Promise.all(
    rows.map(async (row) => {
      const diagnosis = parseDiagnosis(row);
      const media = row.status === 'playing' && row.dialog ? await reopen(o, row, diagnosis, log) : undefined;
      if (media) {
        try {
          const dialog = o.sip.restoreDialog(JSON.parse(row.dialog) as never);
          diagnosis.steps.push({ step: 'reattach', at: Date.now(), ms: 0, ok: true });
          o.manager.adopt(row, media, dialog, diagnosis);
          await repo.update({ id: row.id }, { msg: 'reattached after restart', diagnosis: JSON.stringify(diagnosis), uptime: nowS() });
          result.reattached.push(row.streamid);
          return;
        } catch (err) {
          log.warn({ err, streamId: row.streamid }, 'could not adopt the re-opened stream');
          await media.close('restart').catch(() => undefined);
        }
      }
      const byeSent = await o.manager.byeFromRow(row);
      diagnosis.steps.push({ step: 'bye', at: Date.now(), ms: 0, ok: byeSent });
      diagnosis.stopReason = 'restart';
      await repo.update(
        { id: row.id },
        { status: 'closed', msg: 'restart', stream: false, viewers: 0, diagnosis: JSON.stringify(diagnosis), uptime: nowS() },
      );
      o.events?.publish('streams.stop', { streamid: row.streamid, channelid: row.channelid, deviceid: row.deviceid, reason: 'restart' });
      result.closed.push(row.streamid);
    }),
  );
  log.info({ reattached: result.reattached.length, closed: result.closed.length }, 'streams reconciled after start');
  return result;
}

/** Re-opens the stream's port and resolves to the media stream once the device's packets arrive. */
async function reopen(o: ReconcileOptions, row: StreamRow, d: StreamDiagnosis, log: Logger): Promise<PlayMediaStream | undefined> {
  const transport = row.transport as StreamTransport;
  let media: PlayMediaStream | undefined;
  try {
    media = await o.media.openStream({ streamId: row.streamid, app: 'rtp', transport, port: row.port || undefined, expectedSsrc: Number(row.ssrc) });
    if (transport === 'tcp-active') {
      const [host, port] = (d.answerAddress ?? '').split(':');
      if (!host || !Number(port)) throw new Error('no answer address saved to reconnect to');
      await media.connect(host, Number(port));
    }
    const deadline = Date.now() + (o.waitMs ?? 5000);
    while (Date.now() < deadline) {
      if (media.stats().packets > 0) return media;
      await new Promise((r) => setTimeout(r, 100));
    }
    d.lastError = 'reattach: no packets on the re-opened port';
  } catch (err) {
    d.lastError = `reattach: ${(err as Error).message}`;
    log.info({ err, streamId: row.streamid }, 'stream could not be re-attached');
  }
  await media?.close('restart').catch(() => undefined);
  return undefined;
}

function parseDiagnosis(row: StreamRow): StreamDiagnosis {
  try {
    if (row.diagnosis) return JSON.parse(row.diagnosis) as StreamDiagnosis;
  } catch {
    // a truncated JSON text is not worth failing the reconciliation for
  }
  return newDiagnosis(row.transport, row.ssrc);
}

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}
