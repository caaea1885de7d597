import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.ts';
import type { PlayEventSink, PlayMedia, PlaySharedState, PlaySignaling } from './play-dependencies.ts';
import { reconcileStreams, type ReconcileResult } from './reconcile.ts';
import { Records } from './records.ts';
import { StreamManager } from './stream-manager.ts';

export interface PlayServicesOptions {
  config: Config;
  dataSource: DataSource;
  state: PlaySharedState;
  sip: PlaySignaling;
  media: PlayMedia;
  events?: PlayEventSink;
  logger?: Logger;
  /** Identifies this process on stream rows; default `<hostname>:<SIP port>` (stable across restarts). */
  nodeId?: string;
  /** No other gateway shares the database (no REDIS_URL): reconcile every open stream row. */
  singleNode?: boolean;
}

export interface PlayServices {
  play: StreamManager;
  records: Records;
  /** What the start-up reconciliation did with the streams a previous run left open. */
  reconciled: ReconcileResult;
  close(): Promise<void>;
}

/** Builds the PlayService and RecordService and settles the streams a previous run left behind. */
export async function startPlayServices(o: PlayServicesOptions): Promise<PlayServices> {
  const c = o.config;
  const nodeId = o.nodeId ?? `${hostname()}:${c.sipPort}`;
  const play = new StreamManager({
    db: o.dataSource,
    sip: o.sip,
    media: o.media,
    state: o.state,
    serverId: c.serverId,
    mediaIp: c.mediaIp,
    nodeId,
    urls: { mediaPublicUrl: c.mediaPublicUrl, rtmpPort: c.mediaRtmpPort, playSecret: c.mediaPlaySecret, urlTtlS: c.mediaUrlTtlS },
    playTimeoutS: c.playTimeoutS,
    waitKeyFrameS: c.playWaitKeyFrameS,
    events: o.events,
    logger: o.logger,
  });
  const records = new Records({ db: o.dataSource, sip: o.sip, timeoutS: c.recordsTimeoutS, logger: o.logger });
  const reconciled = await reconcileStreams({
    db: o.dataSource,
    sip: o.sip,
    media: o.media,
    manager: play,
    nodeId,
    singleNode: o.singleNode,
    events: o.events,
    logger: o.logger,
  });
  return { play, records, reconciled, close: () => play.close() };
}
