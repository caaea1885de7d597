// One simulated IPC or NVR: registers with digest, keepalives, re-registers before expiry and
// answers the platform's MANSCDP queries the way field devices do (quirks selectable).
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ClientTransactions, newBranch } from './client-transactions.ts';
import type { ServerTransactions } from './server-transactions.ts';
import { digestAuthorization, readChallenge } from './digest-client.ts';
import {
  catalogResponseXmls,
  decodeBody,
  deviceInfoXml,
  deviceStatusXml,
  encodeBody,
  keepaliveXml,
  parseLocalTime,
  readQuery,
  recordInfoXmls,
  syntheticRecordSegments,
  type CatalogChannel,
  type DeviceCharset,
  type QueryFields,
} from './manscdp.ts';
import type { PeerAddress, SimLink } from './sim-link.ts';
import { makeSipResponse, serializeSipMessage, type SipHeaders, type SipMessage } from './sip-codec.ts';
import { TypedEmitter } from '@gb28181/common';

export interface DeviceQuirks {
  /** Bodies in GB2312 with a GB2312 prolog (default UTF-8). */
  gb2312: boolean;
  /** Catalog and RecordInfo answers carry one item per message, as many NVRs send them. */
  oneItemPerMessage: boolean;
  /** Header lines end with a bare LF. */
  lfOnly: boolean;
  /** Keepalive Status inside <Info>, as some Hikvision firmwares send it. */
  statusInInfo: boolean;
}

export interface SimulatedDeviceOptions {
  deviceId: string;
  kind: 'ipc' | 'nvr';
  channels: CatalogChannel[];
  password: string;
  serverId: string;
  /** Requested registration validity; default 3600. */
  expiresS?: number;
  /** Keepalive interval; default 60. */
  keepaliveS?: number;
  /** Items per Catalog/RecordInfo message when not oneItemPerMessage; default 4. */
  itemsPerMessage?: number;
  quirks?: Partial<DeviceQuirks>;
  manufacturer?: string;
}

/** What the simulator lends a device: its link to the server and the shared transaction table. */
export interface DeviceContext {
  link: SimLink;
  transactions: ClientTransactions;
  /** Records final responses so retransmitted requests are answered, not re-processed. */
  serverTransactions?: ServerTransactions;
  logger: Logger;
  /** Handles INVITE/ACK/BYE/INFO for this device; absent = INVITE answered 488. */
  calls?: CallHandler;
}

export interface CallHandler {
  onRequest(device: SimulatedDevice, m: SipMessage, link: SimLink, from: PeerAddress): boolean;
  closeDevice(device: SimulatedDevice): Promise<void>;
}

export type SimulatedDeviceEvents = {
  registered: [{ latencyMs: number; refresh: boolean }];
  registerFailed: [{ status?: number; error: string }];
  unregistered: [];
  keepalive: [{ ok: boolean; status?: number }];
  query: [{ cmdType: string; sn: string; messages: number }];
  close: [];
};

export class RegisterError extends Error {
  constructor(readonly status: number | undefined, message: string) {
    super(message);
    this.name = 'RegisterError';
  }
}

export class SimulatedDevice extends TypedEmitter<SimulatedDeviceEvents> {
  readonly deviceId: string;
  readonly kind: 'ipc' | 'nvr';
  readonly channels: CatalogChannel[];
  readonly quirks: DeviceQuirks;
  readonly charset: DeviceCharset;
  readonly serverId: string;
  readonly domain: string;
  registered = false;
  keepalivesSent = 0;
  keepalivesOk = 0;

  readonly #o: Required<Omit<SimulatedDeviceOptions, 'quirks'>>;
  readonly #ctx: DeviceContext;
  readonly #registerCallId = `${randomBytes(10).toString('hex')}`;
  readonly #fromTag = randomBytes(5).toString('hex');
  #cseq = 1;
  #sn = 1;
  #nc = 0;
  #keepaliveTimer?: NodeJS.Timeout;
  #refreshTimer?: NodeJS.Timeout;
  #keepaliveFailures = 0;
  #closed = false;

  constructor(o: SimulatedDeviceOptions, ctx: DeviceContext) {
    super();
    if (!/^\d{20}$/.test(o.deviceId)) throw new TypeError(`deviceId must be 20 digits: ${o.deviceId}`);
    if (!/^\d{20}$/.test(o.serverId)) throw new TypeError(`serverId must be 20 digits: ${o.serverId}`);
    // Explicit undefined (options forwarded by the simulator) must not override a default.
    this.#o = {
      ...o,
      expiresS: o.expiresS ?? 3600,
      keepaliveS: o.keepaliveS ?? 60,
      itemsPerMessage: o.itemsPerMessage ?? 4,
      manufacturer: o.manufacturer ?? 'gb-sim',
    };
    this.#ctx = ctx;
    this.emitterLogger = ctx.logger;
    this.deviceId = o.deviceId;
    this.kind = o.kind;
    this.channels = o.channels;
    this.serverId = o.serverId;
    this.domain = o.serverId.slice(0, 10);
    const q = o.quirks ?? {};
    this.quirks = { gb2312: q.gb2312 ?? false, oneItemPerMessage: q.oneItemPerMessage ?? false, lfOnly: q.lfOnly ?? false, statusInInfo: q.statusInInfo ?? false };
    this.charset = this.quirks.gb2312 ? 'gb2312' : 'utf-8';
  }

  get link(): SimLink {
    return this.#ctx.link;
  }

  get logger(): Logger {
    return this.#ctx.logger;
  }

  nextSn(): number {
    return this.#sn++;
  }

  /** Registers (401 challenge, digest retry) and starts keepalives and the refresh timer. */
  async start(): Promise<number> {
    const latency = await this.register();
    this.#scheduleKeepalive(true);
    return latency;
  }

  /** One REGISTER exchange with digest; resolves with the latency to the final 200 in ms. */
  async register(expiresS = this.#o.expiresS): Promise<number> {
    const refresh = this.registered;
    const t0 = performance.now();
    try {
      let res = await this.#sendRegister(expiresS);
      if (res.status === 401 || res.status === 407) {
        const challenge = readChallenge(res.headers['www-authenticate']?.[0] ?? (res.headers['proxy-authenticate'] as SipHeaders['www-authenticate'])?.[0]);
        if (!challenge) throw new RegisterError(res.status, '401 without a usable Digest challenge');
        const uri = `sip:${this.serverId}@${this.domain}`;
        const authorization = digestAuthorization({
          challenge, username: this.deviceId, password: this.#o.password, method: 'REGISTER', uri, nc: ++this.#nc,
        });
        res = await this.#sendRegister(expiresS, authorization);
      }
      if (res.status !== 200) throw new RegisterError(res.status, `REGISTER answered ${res.status} ${res.reason ?? ''}`.trim());
      const latencyMs = performance.now() - t0;
      if (expiresS === 0) {
        this.registered = false;
        this.safeEmit('unregistered');
      } else {
        this.registered = true;
        this.#scheduleRefresh(expiresS);
        this.safeEmit('registered', { latencyMs, refresh });
      }
      return latencyMs;
    } catch (err) {
      const status = err instanceof RegisterError ? err.status : undefined;
      this.safeEmit('registerFailed', { status, error: (err as Error).message });
      throw err;
    }
  }

  async unregister(): Promise<void> {
    this.#stopTimers();
    if (this.registered) await this.register(0);
  }

  #sendRegister(expiresS: number, authorization?: string): Promise<SipMessage> {
    const headers = this.#baseHeaders('REGISTER', this.#registerCallId, `<sip:${this.deviceId}@${this.domain}>`);
    headers.contact = [{ uri: `sip:${this.deviceId}@${this.link.localHost}:${this.link.localPort}`, params: {} }];
    headers.expires = String(expiresS);
    if (authorization) headers.authorization = authorization;
    return this.#ctx.transactions.send(this.link, { method: 'REGISTER', uri: `sip:${this.serverId}@${this.domain}`, version: '2.0', headers }, this.quirks.lfOnly);
  }

  #baseHeaders(method: string, callId: string, to: string): SipHeaders {
    return {
      via: [{ version: '2.0', protocol: this.link.transport.toUpperCase(), host: this.link.localHost, port: this.link.localPort, params: { rport: null, branch: newBranch() } }],
      from: { uri: `sip:${this.deviceId}@${this.domain}`, params: { tag: this.#fromTag } },
      to: { uri: to.slice(1, -1), params: {} },
      'call-id': callId,
      cseq: { seq: this.#cseq++, method },
      'max-forwards': '70',
      'user-agent': 'gb-sim',
    };
  }

  /** Sends a MANSCDP MESSAGE (new Call-ID, as most devices do) and resolves with the final status. */
  async sendManscdp(xml: string, extra?: { callId?: string; fromTag?: string; toTag?: string }): Promise<number> {
    const headers = this.#baseHeaders('MESSAGE', extra?.callId ?? randomBytes(10).toString('hex'), `<sip:${this.serverId}@${this.domain}>`);
    if (extra?.fromTag && headers.from) headers.from.params.tag = extra.fromTag;
    if (extra?.toTag && headers.to) headers.to.params.tag = extra.toTag;
    headers['content-type'] = 'Application/MANSCDP+xml';
    const res = await this.#ctx.transactions.send(
      this.link,
      { method: 'MESSAGE', uri: `sip:${this.serverId}@${this.domain}`, version: '2.0', headers, content: encodeBody(xml, this.charset) },
      this.quirks.lfOnly,
    );
    return res.status ?? 0;
  }

  async keepalive(): Promise<boolean> {
    this.keepalivesSent++;
    try {
      const status = await this.sendManscdp(keepaliveXml({ deviceId: this.deviceId, sn: this.nextSn(), charset: this.charset, statusInInfo: this.quirks.statusInInfo }));
      const ok = status === 200;
      if (ok) this.keepalivesOk++;
      this.safeEmit('keepalive', { ok, status });
      return ok;
    } catch {
      this.safeEmit('keepalive', { ok: false });
      return false;
    }
  }

  #scheduleKeepalive(first: boolean): void {
    if (this.#closed) return;
    const base = this.#o.keepaliveS * 1000;
    // The first keepalive is spread over the interval so a large fleet does not pulse in step.
    const delay = first ? Math.max(50, Math.random() * base) : base;
    this.#keepaliveTimer = setTimeout(async () => {
      const ok = await this.keepalive();
      this.#keepaliveFailures = ok ? 0 : this.#keepaliveFailures + 1;
      // A platform that forgot us answers 4xx or stops answering: register again, as cameras do.
      if (this.#keepaliveFailures >= 3 && !this.#closed) {
        this.#keepaliveFailures = 0;
        this.registered = false;
        await this.register().catch(() => undefined);
      }
      this.#scheduleKeepalive(false);
    }, delay);
  }

  #scheduleRefresh(expiresS: number): void {
    if (this.#refreshTimer) clearTimeout(this.#refreshTimer);
    if (this.#closed) return;
    const ms = Math.max(1000, expiresS * 1000 * 0.85);
    this.#refreshTimer = setTimeout(() => void this.register().catch(() => undefined), ms);
  }

  #stopTimers(): void {
    if (this.#keepaliveTimer) clearTimeout(this.#keepaliveTimer);
    if (this.#refreshTimer) clearTimeout(this.#refreshTimer);
    this.#keepaliveTimer = this.#refreshTimer = undefined;
  }

  /** Routed here by the simulator for requests addressed to this device or one of its channels. */
  handleRequest(m: SipMessage, link: SimLink, from: PeerAddress): void {
    if (this.#closed) return;
    const method = m.method ?? '';
    if (this.#ctx.calls?.onRequest(this, m, link, from)) return;
    if (method === 'MESSAGE') {
      this.reply(m, 200, 'OK', link, from);
      void this.#answerManscdp(m).catch((err: unknown) => this.logger.warn({ err, deviceId: this.deviceId }, 'answering a query failed'));
      return;
    }
    if (method === 'ACK') return;
    if (method === 'INVITE') {
      this.reply(m, 488, 'Not Acceptable Here', link, from);
      return;
    }
    if (method === 'OPTIONS' || method === 'BYE' || method === 'NOTIFY' || method === 'SUBSCRIBE') {
      this.reply(m, method === 'BYE' ? 481 : 200, method === 'BYE' ? 'Call Does Not Exist' : 'OK', link, from);
      return;
    }
    this.reply(m, 501, 'Not Implemented', link, from);
  }

  reply(rq: SipMessage, status: number, reason: string, link: SimLink, to: PeerAddress, ext?: { headers?: SipHeaders; content?: string }, toTag?: string): void {
    const res = makeSipResponse(rq, status, reason, ext);
    // 100 Trying carries no To tag: the dialog's tag comes with the final answer.
    if (status > 100 && res.headers.to && !res.headers.to.params.tag) {
      res.headers.to = { ...res.headers.to, params: { ...res.headers.to.params, tag: toTag ?? this.#fromTag } };
    }
    res.headers['user-agent'] = 'gb-sim';
    const data = serializeSipMessage(res, this.quirks.lfOnly);
    if (status >= 200) this.#ctx.serverTransactions?.answered(rq, data);
    link.send(data, to);
  }

  async #answerManscdp(m: SipMessage): Promise<void> {
    const q = readQuery(decodeBody(m.content ?? ''));
    if (!q) {
      this.logger.warn({ deviceId: this.deviceId }, 'MESSAGE without a MANSCDP root element ignored');
      return;
    }
    if (q.root !== 'Query') return;
    const xmls = this.#answerFor(q);
    if (!xmls) {
      this.logger.debug({ deviceId: this.deviceId, cmdType: q.cmdType }, 'query type not simulated');
      return;
    }
    // Sent one after another, as devices do, so a slow platform is not flooded by one query.
    for (const xml of xmls) await this.sendManscdp(xml);
    this.safeEmit('query', { cmdType: q.cmdType, sn: q.sn, messages: xmls.length });
  }

  #answerFor(q: QueryFields): string[] | undefined {
    const perMessage = this.quirks.oneItemPerMessage ? 1 : this.#o.itemsPerMessage;
    switch (q.cmdType.toLowerCase()) {
      case 'catalog':
        return catalogResponseXmls({ deviceId: this.deviceId, sn: q.sn, channels: this.channels, perMessage, charset: this.charset, manufacturer: this.#o.manufacturer });
      case 'deviceinfo':
        return [
          deviceInfoXml({
            deviceId: this.deviceId, sn: q.sn, name: this.kind === 'nvr' ? `模拟录像机 ${this.deviceId.slice(-4)}` : `模拟摄像机 ${this.deviceId.slice(-4)}`,
            manufacturer: this.#o.manufacturer, model: this.kind === 'nvr' ? 'SIM-NVR' : 'SIM-IPC', firmware: 'V1.0.0', channels: this.channels.length, charset: this.charset,
          }),
        ];
      case 'devicestatus':
        return [deviceStatusXml({ deviceId: this.deviceId, sn: q.sn, charset: this.charset, now: new Date() })];
      case 'recordinfo': {
        const channel = this.channels.find((c) => c.channelId === q.deviceId);
        const start = parseLocalTime(q.fields.StartTime ?? '');
        const end = parseLocalTime(q.fields.EndTime ?? '');
        const segments = channel && start && end ? syntheticRecordSegments(start, end) : [];
        return recordInfoXmls({ channelId: q.deviceId, channelName: channel?.name ?? '', sn: q.sn, segments, perMessage, charset: this.charset });
      }
      default:
        return undefined;
    }
  }

  /** Stops timers and calls; does not unregister (see unregister()). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopTimers();
    await this.#ctx.calls?.closeDevice(this);
    this.safeEmit('close');
  }
}
