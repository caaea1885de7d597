// Composition root of the signaling server: transport → transactions → registrar / presence /
// MANSCDP queries / dialogs, with per-method routing here only. Owns the close order.
import pino, { type Logger } from 'pino';
import type { SipMessage } from 'sip';
import { CatalogCollector, catalogItems, RecordCollector, SingleCollector, type Collector } from './catalog-merger.ts';
import type { Dialog } from './dialog.ts';
import { DialogClient } from './dialog-client.ts';
import { DeviceNotRegisteredError, InvalidStateError, SipResponseError } from './errors.ts';
import { decodeManscdp, encodeManscdp, ManscdpError, child, int, text1, type ManscdpMessage, type XmlFields } from './manscdp-codec.ts';
import { makeResponse, uriUser } from './message-codec.ts';
import { KeyedTaskQueue } from './keyed-task-queue.ts';
import { LocalEndpoint, newTag, USER_AGENT } from './local-endpoint.ts';
import { Presence } from './presence.ts';
import { ptzCommand, type PtzMove, type PtzPreset } from './ptz.ts';
import { QueryCorrelator } from './query-correlator.ts';
import { Registrar } from './registrar.ts';
import { ClientTransactions } from './transaction-client.ts';
import { ServerTransactions } from './transaction-server.ts';
import { SipTransport, type Inbound, type Peer } from './transport.ts';
import { TypedEmitter } from '@gb28181/common';
import type {
  CatalogResult,
  Charset,
  DeviceInfo,
  DeviceStatus,
  DialogState,
  InviteOptions,
  QueryOptions,
  RecordItem,
  RegisteredDevice,
  SipServerEventMap,
  SipServerOptions,
  SipTimers,
} from './types.ts';

export const DEFAULT_TIMERS: SipTimers = {
  T1: 500,
  T2: 4000,
  T4: 5000,
  timeout: 32000,
  sweepIntervalMs: 1000,
  presenceFlushMs: 1000,
  credentialCacheMs: 10000,
};

const ALLOW = 'REGISTER, MESSAGE, INVITE, ACK, BYE, CANCEL, INFO, NOTIFY, OPTIONS';

export async function createSipServer(opts: SipServerOptions): Promise<SipServer> {
  if (!/^\d{20}$/.test(opts.serverId)) throw new TypeError('serverId must be 20 digits');
  if (opts.registerPolicy !== 'known' && opts.registerPolicy !== 'open') throw new TypeError("registerPolicy must be 'known' or 'open'");
  if (opts.registerPolicy === 'open' && !opts.globalPassword) throw new TypeError("registerPolicy 'open' needs globalPassword");
  if (!opts.nonceSecret) throw new TypeError('nonceSecret is required');
  if (!opts.credentials || typeof opts.credentials.lookup !== 'function') throw new TypeError('credentials.lookup is required');
  const server = new SipServer(opts);
  try {
    await server.start();
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}

export class SipServer extends TypedEmitter<SipServerEventMap> {
  readonly serverId: string;
  readonly domain: string;
  readonly #o: SipServerOptions;
  readonly #logger: Logger;
  readonly #timers: SipTimers;
  #transport!: SipTransport;
  #serverTx!: ServerTransactions;
  #clientTx!: ClientTransactions;
  readonly #presence: Presence;
  readonly #registrar: Registrar;
  readonly #queries = new QueryCorrelator();
  readonly #catalogQueue: KeyedTaskQueue;
  readonly #endpoint: LocalEndpoint;
  #dialogClient!: DialogClient;
  readonly #charsetOverride = new Map<string, Charset>();
  readonly #detectedCharset = new Map<string, 'gb18030' | 'utf-8'>();
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(opts: SipServerOptions) {
    super();
    this.#o = opts;
    this.serverId = opts.serverId;
    this.domain = opts.serverId.slice(0, 10);
    this.#endpoint = new LocalEndpoint(opts.serverId, opts.publicIp, () => this.port);
    this.#logger = opts.logger ?? pino({ level: 'silent' });
    this.emitterLogger = this.#logger;
    this.#timers = { ...DEFAULT_TIMERS, ...opts.timers };
    this.#catalogQueue = new KeyedTaskQueue(opts.catalogConcurrency ?? 20);
    this.#presence = new Presence({
      store: opts.presence,
      keepaliveTimeoutMs: (opts.keepaliveTimeoutS ?? 180) * 1000,
      sweepIntervalMs: this.#timers.sweepIntervalMs,
      flushMs: this.#timers.presenceFlushMs,
      logger: this.#logger,
      callbacks: {
        online: (d) => this.safeEmit('online', d),
        offline: (deviceId, reason) => this.safeEmit('offline', { deviceId, reason }),
        unregistered: (deviceId, reason) => this.safeEmit('unregistered', { deviceId, reason }),
      },
    });
    this.#registrar = new Registrar({
      realm: this.domain,
      policy: opts.registerPolicy,
      globalPassword: opts.globalPassword,
      nonceSecret: opts.nonceSecret,
      nonceTtlS: opts.nonceTtlS ?? 300,
      maxAuthFailures: opts.maxAuthFailures ?? 5,
      authBanS: opts.authBanS ?? 60,
      credentials: opts.credentials,
      credentialCacheMs: this.#timers.credentialCacheMs,
      presence: this.#presence,
      logger: this.#logger,
      reply: (rq, rs, to) => this.#serverTx.respond(rq, withServerHeaders(rs), to),
      charsetFor: (id, fromStore) => this.#charsetOverride.get(id) ?? fromStore ?? 'auto',
      registered: (d) => this.#onRegistered(d),
      authFailed: (deviceId, host, reason) => this.safeEmit('authFailed', { deviceId, host, reason }),
    });
  }

  /** @internal */
  async start(): Promise<void> {
    this.#transport = await SipTransport.listen(this.#o.host, this.#o.port, (m) => this.#onInbound(m), this.#logger);
    this.#serverTx = new ServerTransactions(this.#transport, this.#timers.timeout);
    this.#clientTx = new ClientTransactions(this.#transport, this.#timers);
    this.#dialogClient = new DialogClient({
      endpoint: this.#endpoint,
      transport: this.#transport,
      transactions: this.#clientTx,
      currentPeer: (deviceId) => {
        const d = this.#presence.get(deviceId);
        return d ? { host: d.host, port: d.port, transport: d.transport } : undefined;
      },
      logger: this.#logger,
    });
    this.#logger.info({ host: this.#o.host, port: this.#transport.port, serverId: this.serverId }, 'sip server listening (udp+tcp)');
  }

  get port(): number {
    return this.#transport.port;
  }

  device(deviceId: string): RegisteredDevice | undefined {
    const d = this.#presence.get(deviceId);
    return d ? { ...d } : undefined;
  }

  devices(): RegisteredDevice[] {
    const out: RegisteredDevice[] = [];
    for (const d of this.#presence.all()) out.push({ ...d });
    return out;
  }

  setCharset(deviceId: string, charset: Charset): void {
    if (charset !== 'auto' && charset !== 'gb18030' && charset !== 'utf-8') throw new TypeError(`bad charset ${String(charset)}`);
    this.#charsetOverride.set(deviceId, charset);
    const d = this.#presence.get(deviceId);
    if (d) d.charset = charset;
  }

  /** Device deleted through the API: registration, cached credentials and pending queries dropped. */
  forget(deviceId: string): void {
    this.#presence.forget(deviceId);
    this.#registrar.invalidate(deviceId);
    this.#charsetOverride.delete(deviceId);
    this.#detectedCharset.delete(deviceId);
    this.#queries.failAll(new DeviceNotRegisteredError(deviceId), deviceId);
  }

  /** Password or charset changed through the API: the next REGISTER reads the store again. */
  invalidateCredentials(deviceId: string): void {
    this.#registrar.invalidate(deviceId);
  }

  // ---------------------------------------------------------------- inbound

  #onInbound({ msg, source }: Inbound): void {
    if (this.#closed) return;
    if (msg.status !== undefined) {
      this.#onResponse(msg);
      return;
    }
    if (msg.method === 'ACK') return;
    if (this.#serverTx.absorb(msg, source)) return;
    switch (msg.method) {
      case 'REGISTER':
        this.#registrar.handle(msg, source);
        return;
      case 'MESSAGE':
      case 'NOTIFY':
        this.#onMessage(msg, source);
        return;
      case 'BYE':
        this.#onBye(msg, source);
        return;
      case 'OPTIONS':
      case 'INFO':
        this.#reply(msg, makeResponse(msg, 200, 'OK'), source);
        return;
      case 'CANCEL':
        this.#reply(msg, makeResponse(msg, 481, 'Call/Transaction Does Not Exist'), source);
        return;
      case 'INVITE':
      case 'SUBSCRIBE':
        this.#reply(msg, makeResponse(msg, 501, 'Not Implemented', newTag()), source);
        return;
      default: {
        const rs = makeResponse(msg, 405, 'Method Not Allowed');
        rs.headers.allow = ALLOW;
        this.#reply(msg, rs, source);
      }
    }
  }

  #reply(rq: SipMessage, rs: SipMessage, to: Peer): void {
    this.#serverTx.respond(rq, withServerHeaders(rs), to);
  }

  #onResponse(rs: SipMessage): void {
    if (this.#clientTx.onResponse(rs)) return;
    const status = rs.status ?? 0;
    if (rs.headers.cseq?.method === 'INVITE' && status >= 200 && status < 300) this.#dialogClient.strayInviteSuccess(rs);
  }

  #onMessage(rq: SipMessage, from: Peer): void {
    const deviceId = uriUser(rq.headers.from?.uri);
    if (!deviceId) {
      this.#reply(rq, makeResponse(rq, 400, 'Bad Request - no device id in From'), from);
      return;
    }
    const registered = this.#presence.get(deviceId);
    if (!registered || registered.expiresAt <= Date.now()) {
      this.#reply(rq, makeResponse(rq, 403, 'Forbidden - not registered'), from);
      return;
    }
    const body = rq.content ?? '';
    if (body.length === 0) {
      this.#reply(rq, makeResponse(rq, 400, 'Bad Request - empty body'), from);
      return;
    }
    let m: ManscdpMessage;
    try {
      m = decodeManscdp(body, registered.charset);
    } catch (err) {
      const reason = err instanceof ManscdpError ? err.message : 'bad XML';
      this.#logger.debug({ deviceId, reason }, 'manscdp: undecodable body');
      this.#reply(rq, makeResponse(rq, 400, 'Bad Request - ' + reason.replace(/[^\x20-\x7e]/g, '').slice(0, 60)), from);
      return;
    }
    if (this.#detectedCharset.get(deviceId) !== m.charset) this.#detectedCharset.set(deviceId, m.charset);
    if (m.root === 'Notify' && m.cmdType === 'Keepalive') {
      this.#presence.keepalive(deviceId, from);
      this.#reply(rq, makeResponse(rq, 200, 'OK'), from);
      this.safeEmit('keepalive', { deviceId, at: Date.now() });
      return;
    }
    this.#reply(rq, makeResponse(rq, 200, 'OK'), from);
    if (m.root === 'Response') {
      if (this.#queries.deliver(deviceId, m)) return;
      if (m.cmdType === 'Catalog') this.#emitCatalogFragment(deviceId, m);
      return;
    }
    if (m.root === 'Notify') {
      if (m.cmdType === 'MediaStatus') {
        this.safeEmit('mediaStatus', { deviceId, notifyType: text1(m.body, 'notifytype') ?? '', callId: rq.headers['call-id'] });
      } else if (m.cmdType === 'Catalog') {
        // Some devices answer a Catalog query with <Notify> instead of <Response>.
        if (!this.#queries.deliver(deviceId, m)) this.#emitCatalogFragment(deviceId, m);
      }
    }
  }

  /** Catalog NOTIFYs and unsolicited responses: delivered as they come, never complete. */
  #emitCatalogFragment(deviceId: string, m: ManscdpMessage): void {
    const items = catalogItems(m);
    if (items.length === 0) return;
    this.safeEmit('catalog', { deviceId, items, sumNum: int(m.body, 'sumnum') ?? items.length, complete: false });
  }

  #onBye(rq: SipMessage, from: Peer): void {
    const callId = rq.headers['call-id']!;
    this.#reply(rq, makeResponse(rq, 200, 'OK'), from);
    this.#dialogClient.remoteBye(callId);
    this.safeEmit('bye', { callId });
  }

  #onRegistered(d: RegisteredDevice): void {
    this.safeEmit('registered', d);
    if (!d.refresh && this.#o.catalogOnRegister !== false) {
      const deviceId = d.deviceId;
      this.#catalogQueue.push(deviceId, () =>
        this.queryCatalog(deviceId).catch((err: unknown) =>
          this.#logger.info({ deviceId, err: (err as Error).message }, 'catalog after register failed'),
        ),
      );
    }
  }

  // ---------------------------------------------------------------- outbound

  #peer(deviceId: string): Peer & { device: RegisteredDevice } {
    if (this.#closed) throw new InvalidStateError('sip server closed');
    const d = this.#presence.get(deviceId);
    if (!d || d.expiresAt <= Date.now()) throw new DeviceNotRegisteredError(deviceId);
    return { host: d.host, port: d.port, transport: d.transport, device: d };
  }

  #outCharset(deviceId: string): 'gb18030' | 'utf-8' {
    const o = this.#charsetOverride.get(deviceId) ?? this.#presence.get(deviceId)?.charset;
    if (o === 'gb18030' || o === 'utf-8') return o;
    return this.#detectedCharset.get(deviceId) ?? 'gb18030';
  }

  /** Sends a MANSCDP MESSAGE and waits for the device's bare 200. */
  async #sendManscdp(to: Peer, targetId: string, content: string): Promise<void> {
    const rq: SipMessage = {
      method: 'MESSAGE',
      uri: `sip:${targetId}@${to.host}:${to.port}`,
      version: '2.0',
      headers: {
        via: this.#endpoint.via(to.transport),
        from: { uri: this.#endpoint.uri, params: { tag: newTag() } },
        to: { uri: `sip:${targetId}@${this.domain}`, params: {} },
        'call-id': this.#endpoint.newCallId(),
        cseq: { seq: this.#endpoint.nextCseq(), method: 'MESSAGE' },
        'max-forwards': '70',
        'user-agent': USER_AGENT,
        'content-type': 'Application/MANSCDP+xml',
      },
      content,
    };
    const rs = await this.#clientTx.request(rq, to);
    if ((rs.status ?? 0) >= 300) throw new SipResponseError(rs.status!, rs.reason ?? '', 'MESSAGE');
  }

  #query<T>(deviceId: string, targetId: string, cmdType: string, fields: XmlFields, timeoutMs: number, collector: Collector<T>, restartOnProgress = false): Promise<T> {
    let peer: Peer;
    try {
      peer = this.#peer(deviceId);
    } catch (err) {
      return Promise.reject(err);
    }
    const sn = this.#queries.nextSn();
    const content = encodeManscdp('Query', [['CmdType', cmdType], ['SN', sn], ['DeviceID', targetId], ...fields], this.#outCharset(deviceId));
    // The answer promise goes straight back to the caller (so its rejection is always handled);
    // a failed or refused MESSAGE fails it.
    const answer = this.#queries.wait(deviceId, cmdType, sn, timeoutMs, collector, restartOnProgress);
    this.#sendManscdp(peer, targetId, content).catch((err: Error) => this.#queries.fail(deviceId, cmdType, sn, err));
    return answer;
  }

  async queryCatalog(deviceId: string, o: QueryOptions = {}): Promise<CatalogResult> {
    // The timeout is the silence allowed between catalog messages, not a limit on the whole catalog.
    const r = await this.#query(deviceId, deviceId, 'Catalog', [], o.timeoutMs ?? 30000, new CatalogCollector(), true);
    const result: CatalogResult = { deviceId, ...r };
    this.safeEmit('catalog', { deviceId, items: r.items, sumNum: r.sumNum, complete: r.complete });
    return result;
  }

  queryDeviceInfo(deviceId: string, o: QueryOptions = {}): Promise<DeviceInfo> {
    return this.#query(deviceId, deviceId, 'DeviceInfo', [], o.timeoutMs ?? 10000, new SingleCollector((m) => {
      const b = m.body;
      const info: DeviceInfo = { deviceId: m.deviceId ?? deviceId };
      assign(info, 'deviceName', text1(b, 'devicename'));
      assign(info, 'result', text1(b, 'result'));
      assign(info, 'manufacturer', text1(b, 'manufacturer'));
      assign(info, 'model', text1(b, 'model'));
      assign(info, 'firmware', text1(b, 'firmware'));
      assign(info, 'channel', int(b, 'channel'));
      return info;
    }));
  }

  queryDeviceStatus(deviceId: string, o: QueryOptions = {}): Promise<DeviceStatus> {
    return this.#query(deviceId, deviceId, 'DeviceStatus', [], o.timeoutMs ?? 10000, new SingleCollector((m) => {
      const b = m.body;
      const st: DeviceStatus = { deviceId: m.deviceId ?? deviceId };
      assign(st, 'result', text1(b, 'result'));
      assign(st, 'online', text1(b, 'online'));
      assign(st, 'status', text1(b, 'status'));
      assign(st, 'encode', text1(b, 'encode'));
      assign(st, 'record', text1(b, 'record'));
      assign(st, 'deviceTime', text1(b, 'devicetime'));
      assign(st, 'alarmStatus', text1(b, 'alarmstatus') ?? text1(child(b, 'alarmstatus'), 'dutystatus'));
      return st;
    }));
  }

  queryRecordInfo(deviceId: string, channelId: string, start: Date, end: Date, o: QueryOptions = {}): Promise<RecordItem[]> {
    if (!(start instanceof Date) || !(end instanceof Date) || Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) {
      return Promise.reject(new TypeError('start and end must be valid Dates'));
    }
    const fields: XmlFields = [
      ['StartTime', localTime(start)],
      ['EndTime', localTime(end)],
      ['Secrecy', 0],
      ['Type', 'all'],
    ];
    return this.#query(deviceId, channelId, 'RecordInfo', fields, o.timeoutMs ?? 10000, new RecordCollector());
  }

  /**
   * Sends a `<Control>` (DeviceControl) to a device or one of its channels; resolves on the
   * device's 200 (GB devices send no MANSCDP answer to most controls).
   */
  deviceControl(deviceId: string, targetId: string, fields: XmlFields): Promise<void> {
    let peer: Peer;
    try {
      peer = this.#peer(deviceId);
    } catch (err) {
      return Promise.reject(err);
    }
    const content = encodeManscdp('Control', [['CmdType', 'DeviceControl'], ['SN', this.#queries.nextSn()], ['DeviceID', targetId], ...fields], this.#outCharset(deviceId));
    return this.#sendManscdp(peer, targetId, content);
  }

  /** PTZ move / stop (`{}`) / preset on a channel. */
  ptz(deviceId: string, channelId: string, command: PtzMove | PtzPreset): Promise<void> {
    let cmd: string;
    try {
      cmd = ptzCommand(command);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.deviceControl(deviceId, channelId, [['PTZCmd', cmd]]);
  }

  // ---------------------------------------------------------------- dialogs

  async invite(o: InviteOptions): Promise<Dialog> {
    if (!o || !o.deviceId || !o.channelId) throw new TypeError('deviceId and channelId are required');
    if (!/^\d{1,10}$/.test(o.ssrc)) throw new TypeError('ssrc must be up to 10 digits');
    if (o.kind !== 'Play' && o.kind !== 'Playback' && o.kind !== 'Download') throw new TypeError(`bad kind ${String(o.kind)}`);
    if (o.transport !== 'udp' && o.transport !== 'tcp-passive' && o.transport !== 'tcp-active') throw new TypeError(`bad transport ${String(o.transport)}`);
    if (!Number.isInteger(o.mediaPort) || o.mediaPort < 0 || o.mediaPort > 65535) throw new TypeError('bad mediaPort');
    if (o.kind !== 'Play' && (o.start === undefined || o.end === undefined)) throw new TypeError(`${o.kind} needs start and end`);
    return this.#dialogClient.invite(o, this.#peer(o.deviceId));
  }

  restoreDialog(state: DialogState): Dialog {
    if (this.#closed) throw new InvalidStateError('sip server closed');
    return this.#dialogClient.restore(state);
  }

  // ---------------------------------------------------------------- lifecycle

  close(): Promise<void> {
    if (!this.#closing) this.#closing = this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    const closed = new InvalidStateError('sip server closed');
    this.#catalogQueue.close();
    this.#queries.failAll(closed);
    this.#clientTx?.close(closed);
    this.#dialogClient?.close();
    await this.#presence.close();
    this.#serverTx?.close();
    await this.#transport?.close();
  }
}

function withServerHeaders(rs: SipMessage): SipMessage {
  rs.headers['user-agent'] = USER_AGENT;
  return rs;
}

function assign<T extends object, K extends keyof T>(o: T, k: K, v: T[K] | undefined): void {
  if (v !== undefined) o[k] = v;
}

/** Device local time, `YYYY-MM-DDTHH:MM:SS` (what RecordInfo expects). */
export function localTime(d: Date): string {
  const p2 = (n: number) => (n < 10 ? '0' : '') + n;
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}
