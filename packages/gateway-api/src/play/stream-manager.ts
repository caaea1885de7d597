import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource, Repository } from 'typeorm';
import { In } from 'typeorm';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { PlayRequest, PlayService, StreamUrls } from '../services.ts';
import { StreamEntity, type StreamRow } from '../storage/entities.ts';
import { resolveChannel } from './channel-directory.ts';
import type {
  PlayDialog,
  PlayEventSink,
  PlayMedia,
  PlayMediaStream,
  PlaySharedState,
  PlaySignaling,
  StreamTransport,
} from './play-dependencies.ts';
import { NotFoundError, PlayError, type PlayStep } from './play-errors.ts';
import { SsrcAllocator, ssrcToStreamId } from './ssrc-allocator.ts';
import {
  applyStats,
  describeError,
  newDiagnosis,
  recordStep,
  sdpFromDialogState,
  type StreamDiagnosis,
} from './stream-diagnosis.ts';
import { streamUrls, type UrlSettings } from './urls.ts';

export interface StreamManagerOptions {
  db: DataSource;
  sip: PlaySignaling;
  media: PlayMedia;
  state: PlaySharedState;
  serverId: string;
  /** GB_MEDIA_IP: the c= address devices send RTP to. */
  mediaIp: string;
  /** Identifies this gateway process on stream rows (several nodes share one database). */
  nodeId: string;
  urls: UrlSettings;
  /** GB_PLAY_TIMEOUT_S: a play with no media by then fails. Default 10. */
  playTimeoutS?: number;
  /** GB_PLAY_WAIT_KEYFRAME_S: once media flows, answer after this long even without a key frame. Default = playTimeoutS. */
  waitKeyFrameS?: number;
  /** How long an INVITE may wait for its final answer. Default 8000 ms. */
  inviteTimeoutMs?: number;
  /** How long a stop waits for the device's answer to BYE before moving on. Default 3000 ms. */
  byeWaitMs?: number;
  events?: PlayEventSink;
  logger?: Logger;
}

export type StreamStatus = 'opening' | 'playing' | 'closed' | 'failed';
const OPEN: StreamStatus[] = ['opening', 'playing'];

interface ActiveStream {
  streamId: string;
  ssrc: string;
  t: 0 | 1;
  deviceId: string;
  channelId: string;
  transport: StreamTransport;
  status: StreamStatus;
  media?: PlayMediaStream;
  dialog?: PlayDialog;
  callId?: string;
  keyFrame: boolean;
  diagnosis: StreamDiagnosis;
  abort: AbortController;
  stopping?: Promise<void>;
}

interface StopOptions {
  sendBye?: boolean;
  closeMedia?: boolean;
  status?: 'closed' | 'failed';
}

/**
 * Implements PlayService: opens live and playback streams (SSRC → receive port → INVITE → media),
 * keeps one live stream per channel, and funnels every way a stream can end through one stop path
 * that hangs up the dialog, closes the media and records the reason on the stream row.
 */
export class StreamManager implements PlayService {
  readonly #o: StreamManagerOptions;
  readonly #log: Logger;
  readonly #repo: Repository<StreamRow>;
  readonly #ssrc: SsrcAllocator;
  readonly #byId = new Map<string, ActiveStream>();
  readonly #byCallId = new Map<string, ActiveStream>();
  readonly #liveByChannel = new Map<string, ActiveStream>();
  readonly #liveOpening = new Map<string, Promise<{ streamid: string }>>();
  readonly #playTimeoutS: number;
  readonly #waitKeyFrameS: number;
  #closed = false;

  constructor(o: StreamManagerOptions) {
    this.#o = o;
    this.#log = (o.logger ?? pino({ level: 'silent' })).child({ part: 'play' });
    this.#repo = o.db.getRepository<StreamRow>(StreamEntity);
    this.#playTimeoutS = o.playTimeoutS ?? 10;
    this.#waitKeyFrameS = Math.min(o.waitKeyFrameS ?? this.#playTimeoutS, this.#playTimeoutS);
    this.#ssrc = new SsrcAllocator({
      domain: o.serverId.slice(0, 10),
      state: o.state,
      inUse: async (ssrc) => (await this.#repo.count({ where: { ssrc, status: In(OPEN) } })) > 0,
    });
    o.sip.on('bye', (e) => this.#onDeviceBye(e.callId));
    o.sip.on('mediaStatus', (e) => this.#onMediaStatus(e.deviceId, e.notifyType, e.callId));
    o.sip.on('offline', (e) => {
      this.stopDevice(e.deviceId, 'device-offline').catch((err) => this.#log.error({ err }, 'stopDevice failed'));
    });
  }

  // ---- PlayService -------------------------------------------------------------------------

  async play(channelId: string, req: PlayRequest): Promise<{ streamid: string }> {
    if (this.#closed) throw new PlayError('the gateway is shutting down', { status: 503 });
    if (req.replay === 1) {
      const { start, end } = req;
      if (!Number.isFinite(start) || !Number.isFinite(end) || (end as number) <= (start as number)) {
        throw new PlayError('playback needs start and end (Unix s) with start < end', { status: 400 });
      }
      return this.#open(channelId, 1, start, end);
    }
    const current = this.#liveByChannel.get(channelId);
    if (current && current.status === 'playing') {
      if (this.#isAlive(current)) return { streamid: current.streamId };
      await this.#stop(current, 'dead-on-reuse');
    }
    let pending = this.#liveOpening.get(channelId);
    if (!pending) {
      pending = this.#openLiveOnce(channelId).finally(() => this.#liveOpening.delete(channelId));
      this.#liveOpening.set(channelId, pending);
    }
    return pending;
  }

  async stop(streamId: string, reason: string): Promise<void> {
    const a = this.#byId.get(streamId);
    if (a) return this.#stop(a, reason);
    const row = await this.#repo.findOne({ where: { streamid: streamId } });
    if (!row) throw new NotFoundError(`stream ${streamId} not found`);
    if (!OPEN.includes(row.status as StreamStatus)) return;
    // Owned by no live object here (another node, or left by a crash): hang up from the saved dialog.
    await this.byeFromRow(row);
    await this.#repo.update({ streamid: streamId }, { status: 'closed', msg: reason, stream: false, viewers: 0, uptime: nowS() });
    this.#o.events?.publish('streams.stop', { streamid: streamId, channelid: row.channelid, deviceid: row.deviceid, reason });
  }

  async stopDevice(deviceId: string, reason: string): Promise<void> {
    const mine = [...this.#byId.values()].filter((a) => a.deviceId === deviceId);
    await Promise.all(mine.map((a) => this.#stop(a, reason)));
  }

  urls(streamId: string): StreamUrls {
    return streamUrls(streamId, this.#o.urls);
  }

  liveStats(streamId: string): Record<string, unknown> | undefined {
    const a = this.#byId.get(streamId);
    if (!a) return undefined;
    const stats = a.media?.stats();
    applyStats(a.diagnosis, stats);
    return {
      status: a.status,
      stream: (stats?.packets ?? 0) > 0,
      viewers: stats?.viewers ?? 0,
      packets: stats?.packets ?? 0,
      bytes: stats?.bytes ?? 0,
      lost: stats?.lost ?? 0,
      frames: stats?.frames ?? 0,
      diagnosis: a.diagnosis,
    };
  }

  // ---- beyond PlayService ------------------------------------------------------------------

  /** Streams this process holds open (ids). */
  openStreams(): string[] {
    return [...this.#byId.keys()];
  }

  /** Takes over a stream found in the database after a restart whose media is flowing again. */
  adopt(row: StreamRow, media: PlayMediaStream, dialog: PlayDialog, diagnosis: StreamDiagnosis): void {
    const a: ActiveStream = {
      streamId: row.streamid,
      ssrc: row.ssrc,
      t: row.t === 1 ? 1 : 0,
      deviceId: row.deviceid,
      channelId: row.channelid,
      transport: row.transport as StreamTransport,
      status: 'playing',
      media,
      dialog,
      callId: callIdOf(dialog),
      keyFrame: false,
      diagnosis,
      abort: new AbortController(),
    };
    this.#ssrc.hold(a.ssrc);
    this.#track(a);
    this.#bindMedia(a, media);
    this.#bindDialog(a, dialog);
  }

  /** BYE from a stored dialog; failures are logged, never thrown (the device may be long gone). */
  async byeFromRow(row: StreamRow): Promise<boolean> {
    if (!row.dialog) return false;
    try {
      const dialog = this.#o.sip.restoreDialog(JSON.parse(row.dialog) as never);
      await withTimeout(dialog.bye(), this.#o.byeWaitMs ?? 3000);
      return true;
    } catch (err) {
      this.#log.warn({ err, streamId: row.streamid }, 'BYE from saved dialog failed');
      return false;
    }
  }

  /** Ends every stream with reason 'shutdown' (graceful stop; a crash is handled by reconcile). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#byId.values()].map((a) => this.#stop(a, 'shutdown')));
  }

  // ---- opening -----------------------------------------------------------------------------

  async #openLiveOnce(channelId: string): Promise<{ streamid: string }> {
    const lockKey = `play:live:${channelId}`;
    const lockTtlMs = (this.#playTimeoutS + 10) * 1000;
    const deadline = Date.now() + lockTtlMs;
    // Another node may be opening the same channel: wait for its row instead of a second INVITE.
    for (;;) {
      const other = await this.#repo.findOne({ where: { channelid: channelId, t: 0, status: 'playing' } });
      if (other && other.node !== this.#o.nodeId) return { streamid: other.streamid };
      const unlock = await this.#o.state.tryLock(lockKey, lockTtlMs);
      if (unlock) {
        try {
          return await this.#open(channelId, 0);
        } finally {
          await unlock().catch((err) => this.#log.warn({ err, channelId }, 'unlock failed'));
        }
      }
      if (Date.now() > deadline) throw new PlayError('another node is still opening this channel', { status: 409, step: 'lookup' });
      await sleep(200);
    }
  }

  async #open(channelId: string, t: 0 | 1, start?: number, end?: number): Promise<{ streamid: string }> {
    const target = await resolveChannel(this.#o.db, channelId);
    if (!target) throw new NotFoundError(`channel ${channelId} not found`);
    if (!this.#o.sip.device(target.deviceId)) {
      throw new PlayError(`device ${target.deviceId} is offline`, { status: 409, step: 'lookup' });
    }
    const ssrc = await this.#ssrc.allocate(t === 0 ? 'live' : 'history');
    const streamId = ssrcToStreamId(ssrc);
    const a: ActiveStream = {
      streamId,
      ssrc,
      t,
      deviceId: target.deviceId,
      channelId,
      transport: target.streamMode,
      status: 'opening',
      keyFrame: false,
      diagnosis: newDiagnosis(target.streamMode, ssrc),
      abort: new AbortController(),
    };
    a.diagnosis.mediaIp = this.#o.mediaIp;
    this.#track(a);
    let step: PlayStep = 'lookup';
    try {
      await this.#insertRow(a, start, end);
      step = 'port';
      const media = await recordStep(a.diagnosis, 'port', () =>
        this.#o.media.openStream({ streamId, app: 'rtp', transport: a.transport, expectedSsrc: Number(ssrc) }),
      );
      a.media = media;
      a.diagnosis.port = media.port;
      this.#bindMedia(a, media);
      this.#throwIfStopped(a);

      step = 'invite';
      const dialog = await recordStep(a.diagnosis, 'invite', () =>
        this.#o.sip.invite({
          deviceId: target.deviceId,
          channelId,
          kind: t === 0 ? 'Play' : 'Playback',
          ssrc,
          mediaIp: this.#o.mediaIp,
          mediaPort: media.port,
          transport: a.transport,
          start,
          end,
          timeoutMs: this.#o.inviteTimeoutMs ?? 8000,
        }),
      );
      if (a.stopping) {
        // Stopped while the INVITE was out: the stop found no dialog to hang up, so do it here.
        await withTimeout(dialog.bye(), this.#o.byeWaitMs ?? 3000).catch((err) => this.#log.warn({ err, streamId }, 'BYE failed'));
        throw new Error('stopped during the INVITE');
      }
      a.dialog = dialog;
      a.callId = callIdOf(dialog);
      if (a.callId) this.#byCallId.set(a.callId, a);
      this.#bindDialog(a, dialog);
      const sdp = sdpFromDialogState(dialog.state);
      a.diagnosis.sdpOffer = sdp.offer;
      a.diagnosis.sdpAnswer = sdp.answer;
      a.diagnosis.ssrcAnswered = dialog.answer.ssrc;
      if (dialog.answer.ip || dialog.answer.port) a.diagnosis.answerAddress = `${dialog.answer.ip ?? '?'}:${dialog.answer.port ?? '?'}`;
      await this.#repo.update({ streamid: streamId }, { port: media.port, dialog: JSON.stringify(dialog.state), diagnosis: JSON.stringify(a.diagnosis), uptime: nowS() });
      this.#throwIfStopped(a);

      if (a.transport === 'tcp-active') {
        step = 'connect';
        const { ip, port } = dialog.answer;
        await recordStep(a.diagnosis, 'connect', async () => {
          if (!ip || !port) throw new Error('the answer has no c=/m= address to connect to');
          await media.connect(ip, port);
        });
      }

      step = 'media';
      await recordStep(a.diagnosis, 'media', () => this.#waitForMedia(a, media));
      this.#throwIfStopped(a);
      a.status = 'playing';
      applyStats(a.diagnosis, media.stats());
      await this.#repo.update(
        { streamid: streamId },
        { status: 'playing', stream: true, diagnosis: JSON.stringify(a.diagnosis), uptime: nowS() },
      );
      this.#o.events?.publish('streams.start', { streamid: streamId, channelid: channelId, deviceid: target.deviceId, t });
      this.#log.info({ streamId, channelId, transport: a.transport }, 'stream playing');
      return { streamid: streamId };
    } catch (err) {
      const stoppedElsewhere = !!a.stopping;
      const message = stoppedElsewhere ? `stopped while opening: ${a.diagnosis.stopReason}` : failureMessage(step, err, this.#playTimeoutS);
      if (!stoppedElsewhere) {
        a.diagnosis.failedStep ??= step;
        a.diagnosis.lastError ??= `${step}: ${describeError(err)}`;
        await this.#stop(a, `failed: ${message}`, { status: 'failed' });
      } else {
        await a.stopping;
      }
      throw new PlayError(message, { status: failureStatus(step, err, stoppedElsewhere), step, cause: err });
    }
  }

  #waitForMedia(a: ActiveStream, media: PlayMediaStream): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      let settled = false;
      const done = (err?: Error) => {
        if (settled) return;
        settled = true;
        timers.forEach(clearTimeout);
        a.abort.signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onKey = () => done();
      const onAbort = () => done(new Error(String(a.abort.signal.reason ?? 'stopped')));
      if (a.keyFrame) return resolve();
      if (a.abort.signal.aborted) return onAbort();
      media.on('firstKeyFrame', onKey);
      a.abort.signal.addEventListener('abort', onAbort);
      // Media flows but no key frame yet: answer anyway after the configured wait; players catch up.
      timers.push(setTimeout(() => media.stats().packets > 0 && done(), this.#waitKeyFrameS * 1000));
      timers.push(
        setTimeout(() => {
          if (media.stats().packets > 0) done();
          else done(new Error(`no media within ${this.#playTimeoutS} s`));
        }, this.#playTimeoutS * 1000),
      );
    });
  }

  #throwIfStopped(a: ActiveStream): void {
    if (a.stopping) throw new Error(`stopped: ${a.diagnosis.stopReason ?? ''}`);
  }

  async #insertRow(a: ActiveStream, start?: number, end?: number): Promise<void> {
    // Stream ids repeat once the SSRC sequence wraps; the old closed row gives way to the new one.
    await this.#repo.delete({ streamid: a.streamId, status: In(['closed', 'failed']) });
    const now = nowS();
    await this.#repo.insert({
      streamid: a.streamId,
      ssrc: a.ssrc,
      t: a.t,
      deviceid: a.deviceId,
      channelid: a.channelId,
      status: 'opening',
      start: start ?? 0,
      end: end ?? 0,
      stream: false,
      viewers: 0,
      msg: '',
      transport: a.transport,
      port: 0,
      node: this.#o.nodeId,
      dialog: null as unknown as string,
      diagnosis: JSON.stringify(a.diagnosis),
      addtime: now,
      uptime: now,
    });
  }

  // ---- events ------------------------------------------------------------------------------

  #track(a: ActiveStream): void {
    this.#byId.set(a.streamId, a);
    if (a.t === 0) this.#liveByChannel.set(a.channelId, a);
    if (a.callId) this.#byCallId.set(a.callId, a);
  }

  #bindMedia(a: ActiveStream, media: PlayMediaStream): void {
    media.on('firstKeyFrame', () => {
      a.keyFrame = true;
      a.diagnosis.firstKeyFrameAt = Date.now();
    });
    media.on('timeout', (e) => {
      // While opening, the play's own wait decides and reports which step failed.
      if (a.status === 'opening') return;
      const reason = e.reason === 'idle' ? 'media-idle' : 'no-media';
      a.diagnosis.lastError = `media: ${reason}`;
      this.#stopLogged(a, reason);
    });
    media.on('viewers', (count) => {
      // Viewer counts change at human pace: one row write each keeps GET /streams honest.
      if (!a.stopping) this.#repo.update({ streamid: a.streamId }, { viewers: count }).catch(() => undefined);
    });
    media.on('noViewers', () => {
      if (a.status === 'playing') this.#stopLogged(a, 'no-viewers');
    });
    media.on('close', (e) => {
      if (!a.stopping) this.#stopLogged(a, `media-closed: ${e.reason}`, { closeMedia: false });
    });
    if (a.transport !== 'tcp-active') a.diagnosis.port = media.port;
  }

  #bindDialog(a: ActiveStream, dialog: PlayDialog): void {
    dialog.on('bye', () => this.#stopLogged(a, 'device-bye', { sendBye: false }));
  }

  #onDeviceBye(callId: string): void {
    const a = this.#byCallId.get(callId);
    if (a) this.#stopLogged(a, 'device-bye', { sendBye: false });
  }

  #onMediaStatus(deviceId: string, notifyType: string, callId?: string): void {
    if (String(notifyType).trim() !== '121') return;
    const byCall = callId ? this.#byCallId.get(callId) : undefined;
    // Devices rarely say which dialog ended; then every playback of that device is at its end.
    const targets = byCall ? [byCall] : [...this.#byId.values()].filter((a) => a.t === 1 && a.deviceId === deviceId);
    for (const a of targets) this.#stopLogged(a, 'playback-end');
  }

  #stopLogged(a: ActiveStream, reason: string, o?: StopOptions): void {
    this.#stop(a, reason, o).catch((err) => this.#log.error({ err, streamId: a.streamId }, 'stop failed'));
  }

  // ---- the one stop path -------------------------------------------------------------------

  #stop(a: ActiveStream, reason: string, o: StopOptions = {}): Promise<void> {
    if (a.stopping) return a.stopping;
    a.diagnosis.stopReason = reason;
    a.abort.abort(reason);
    a.stopping = (async () => {
      a.status = o.status ?? 'closed';
      if (this.#liveByChannel.get(a.channelId) === a) this.#liveByChannel.delete(a.channelId);
      if (o.sendBye !== false && a.dialog) {
        await recordStep(a.diagnosis, 'bye', () => withTimeout(a.dialog!.bye(), this.#o.byeWaitMs ?? 3000)).catch((err) =>
          this.#log.warn({ err, streamId: a.streamId }, 'BYE failed'),
        );
      }
      applyStats(a.diagnosis, a.media?.stats());
      if (a.media && o.closeMedia !== false) {
        await a.media.close(reason).catch((err) => this.#log.warn({ err, streamId: a.streamId }, 'media close failed'));
      }
      if (a.callId && this.#byCallId.get(a.callId) === a) this.#byCallId.delete(a.callId);
      this.#byId.delete(a.streamId);
      this.#ssrc.release(a.ssrc);
      await this.#repo
        .update(
          { streamid: a.streamId },
          { status: a.status, msg: reason.slice(0, 500), stream: false, viewers: 0, diagnosis: JSON.stringify(a.diagnosis), uptime: nowS() },
        )
        .catch((err) => this.#log.error({ err, streamId: a.streamId }, 'could not record the stream stop'));
      this.#o.events?.publish('streams.stop', { streamid: a.streamId, channelid: a.channelId, deviceid: a.deviceId, reason });
      this.#log.info({ streamId: a.streamId, reason }, 'stream stopped');
    })();
    return a.stopping;
  }

  #isAlive(a: ActiveStream): boolean {
    return !!a.media && this.#o.media.stream(a.streamId) === a.media && !a.stopping;
  }
}

function callIdOf(dialog: PlayDialog): string | undefined {
  const id = (dialog.state as { callId?: unknown }).callId;
  return typeof id === 'string' ? id : undefined;
}

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function sipStatusOf(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === 'number' && s >= 300 ? s : undefined;
}

function failureMessage(step: PlayStep, err: unknown, playTimeoutS: number): string {
  const sip = sipStatusOf(err);
  switch (step) {
    case 'lookup':
      return 'could not store the stream (storage unavailable)';
    case 'port':
      return `could not open a receive port: ${describeError(err)}`;
    case 'invite':
      if (sip) return `device answered the INVITE with ${sip}`;
      return /timeout|timed out/i.test(describeError(err)) || (err as Error)?.name?.includes('Timeout')
        ? 'timeout waiting for the device to answer the INVITE (200)'
        : `INVITE failed: ${describeError(err)}`;
    case 'connect':
      return `could not connect to the device's media port: ${describeError(err)}`;
    case 'media':
      return `no media within ${playTimeoutS} s`;
    default:
      return describeError(err);
  }
}

function failureStatus(step: PlayStep, err: unknown, stopped: boolean): number {
  if (stopped) return 409;
  if (step === 'invite' && sipStatusOf(err)) return 502;
  if (step === 'port' || step === 'lookup') return 503;
  return 504;
}
