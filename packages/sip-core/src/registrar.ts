// REGISTER handling: digest challenge and check, the two admission policies (`known`: only devices
// the API created; `open`: any id with the global password, created on first success), a ban after
// repeated failures, and the 200 GB devices expect (Date for clock sync, Expires, Contact, To-tag).
import type { Logger } from 'pino';
import type { SipMessage } from 'sip';
import { CredentialCache, type CachedCredentials } from './credential-cache.ts';
import { challenge, checkNonce, createNonce, ha1, readAuthorization, verifyDigest } from './digest.ts';
import { newTag } from './local-endpoint.ts';
import { headerString, makeResponse, uriUser } from './message-codec.ts';
import type { Presence } from './presence.ts';
import type { Peer } from './transport.ts';
import type { Charset, DeviceCredentialStore, RegisteredDevice } from './types.ts';

export interface RegistrarOptions {
  realm: string;
  policy: 'known' | 'open';
  globalPassword?: string;
  nonceSecret: string;
  nonceTtlS: number;
  maxAuthFailures: number;
  authBanS: number;
  credentials: DeviceCredentialStore;
  credentialCacheMs: number;
  presence: Presence;
  logger: Logger;
  reply(rq: SipMessage, rs: SipMessage, to: Peer): void;
  charsetFor(deviceId: string, fromStore?: Charset): Charset;
  registered(d: RegisteredDevice): void;
  authFailed(deviceId: string, host: string, reason: string): void;
}

const DEVICE_ID = /^[0-9A-Za-z_.\-]{1,40}$/;
const DEFAULT_EXPIRES_S = 3600;
const MAX_EXPIRES_S = 7 * 24 * 3600;

interface Failures {
  count: number;
  bannedUntil: number;
  at: number;
}

export class Registrar {
  readonly #cache: CredentialCache;
  readonly #failures = new Map<string, Failures>();
  readonly #globalHa1 = new Map<string, string>();

  constructor(private readonly o: RegistrarOptions) {
    this.#cache = new CredentialCache(o.credentials, o.realm, o.credentialCacheMs);
  }

  invalidate(deviceId: string): void {
    this.#cache.invalidate(deviceId);
    this.#globalHa1.delete(deviceId);
  }

  handle(rq: SipMessage, from: Peer): void {
    const deviceId = uriUser(rq.headers.from?.uri) ?? uriUser(rq.headers.to?.uri);
    if (!deviceId || !DEVICE_ID.test(deviceId)) {
      this.o.reply(rq, makeResponse(rq, 400, 'Bad Request - no device id in From'), from);
      return;
    }
    const banKey = `${deviceId}|${from.host}`;
    const f = this.#failures.get(banKey);
    if (f && f.bannedUntil > Date.now()) {
      this.o.reply(rq, makeResponse(rq, 403, 'Forbidden - too many failed attempts'), from);
      return;
    }
    const hit = this.#cache.peek(deviceId);
    if (hit) {
      this.#withCredentials(rq, from, deviceId, hit, banKey);
      return;
    }
    this.#cache.get(deviceId).then(
      (c) => this.#guard(() => this.#withCredentials(rq, from, deviceId, c, banKey), deviceId),
      (err: unknown) => {
        this.o.logger.warn({ err, deviceId }, 'credential lookup failed');
        this.o.reply(rq, makeResponse(rq, 503, 'Service Unavailable'), from);
      },
    );
  }

  #withCredentials(rq: SipMessage, from: Peer, deviceId: string, c: CachedCredentials, banKey: string): void {
    let secretHa1 = c.ha1;
    let created = c.credentials !== null;
    if (!c.credentials) {
      if (this.o.policy === 'known' || !this.o.globalPassword) {
        // An endless 401 loop would hide the cause from the installer: say no at once.
        this.o.reply(rq, makeResponse(rq, 403, 'Forbidden - unknown device'), from);
        this.o.authFailed(deviceId, from.host, 'unknown device');
        return;
      }
      secretHa1 = this.#globalHa1.get(deviceId);
      if (!secretHa1) {
        secretHa1 = ha1(deviceId, this.o.realm, this.o.globalPassword);
        if (this.#globalHa1.size >= 100_000) this.#globalHa1.clear();
        this.#globalHa1.set(deviceId, secretHa1);
      }
      created = false;
    }
    const authHeader = rq.headers.authorization; // parsed requests always carry an array
    const auth = readAuthorization(Array.isArray(authHeader) ? authHeader[0] : undefined);
    if (!auth) {
      this.#challenge(rq, from, false);
      return;
    }
    const nonce = checkNonce(auth.nonce, this.o.nonceSecret, this.o.nonceTtlS);
    if (nonce !== 'ok') {
      this.#challenge(rq, from, nonce === 'stale');
      return;
    }
    if (auth.username !== deviceId || !verifyDigest(auth, rq.method!, secretHa1!)) {
      this.#fail(rq, from, deviceId, banKey, auth.username !== deviceId ? 'username differs from device id' : 'wrong password');
      return;
    }
    this.#failures.delete(banKey);
    if (!created && this.o.credentials.create) {
      const create = this.o.credentials.create.bind(this.o.credentials);
      create(deviceId).then(
        () =>
          this.#guard(() => {
            this.#cache.put(deviceId, { deviceId, password: this.o.globalPassword! });
            this.#accept(rq, from, deviceId, undefined);
          }, deviceId),
        (err: unknown) => {
          this.o.logger.warn({ err, deviceId }, 'creating a device on first register failed');
          this.o.reply(rq, makeResponse(rq, 503, 'Service Unavailable'), from);
        },
      );
      return;
    }
    this.#accept(rq, from, deviceId, c.credentials?.charset);
  }

  /** Work resumed from a promise: a throw there would be an unhandled rejection, i.e. a crash. */
  #guard(fn: () => void, deviceId: string): void {
    try {
      fn();
    } catch (err) {
      this.o.logger.error({ err, deviceId }, 'register handling failed');
    }
  }

  #challenge(rq: SipMessage, from: Peer, stale: boolean): void {
    const rs = makeResponse(rq, 401, 'Unauthorized', newTag());
    rs.headers['www-authenticate'] = [challenge(this.o.realm, createNonce(this.o.nonceSecret), stale)];
    this.o.reply(rq, rs, from);
  }

  #fail(rq: SipMessage, from: Peer, deviceId: string, banKey: string, reason: string): void {
    const now = Date.now();
    let f = this.#failures.get(banKey);
    // Failures older than a ban length are forgiven.
    if (!f || now - f.at > this.o.authBanS * 1000) f = { count: 0, bannedUntil: 0, at: now };
    f.count++;
    f.at = now;
    this.#failures.set(banKey, f);
    this.o.authFailed(deviceId, from.host, reason);
    if (f.count >= this.o.maxAuthFailures) {
      f.bannedUntil = now + this.o.authBanS * 1000;
      f.count = 0;
      this.o.logger.warn({ deviceId, host: from.host, banS: this.o.authBanS }, 'register: too many failed attempts, banned');
      this.o.reply(rq, makeResponse(rq, 403, 'Forbidden'), from);
      return;
    }
    this.#challenge(rq, from, false);
    if (this.#failures.size > 100_000) this.#pruneFailures(now);
  }

  #pruneFailures(now: number): void {
    for (const [k, f] of this.#failures) if (f.bannedUntil < now && now - f.at > this.o.authBanS * 1000) this.#failures.delete(k);
  }

  #accept(rq: SipMessage, from: Peer, deviceId: string, storeCharset: Charset | undefined): void {
    const expires = requestedExpires(rq);
    const rs = makeResponse(rq, 200, 'OK', newTag());
    const contact = rq.headers.contact;
    if (contact && contact !== '*') rs.headers.contact = contact;
    rs.headers.expires = String(expires);
    rs.headers.date = gbDateNow();
    this.o.reply(rq, rs, from);
    if (expires === 0) {
      this.o.presence.unregister(deviceId);
      return;
    }
    const contactUri = Array.isArray(contact) ? contact[0]?.uri : undefined;
    const d = this.o.presence.register(
      deviceId,
      from,
      expires,
      this.o.charsetFor(deviceId, storeCharset),
      contactUri,
      headerString(rq, 'user-agent'),
    );
    this.o.registered({ ...d });
  }
}

function requestedExpires(rq: SipMessage): number {
  const contact = rq.headers.contact;
  if (contact === '*') return 0;
  const param = Array.isArray(contact) ? contact[0]?.params?.expires : undefined;
  const raw = param ?? headerString(rq, 'expires');
  if (raw === undefined || raw === null) return DEFAULT_EXPIRES_S;
  const n = parseInt(String(raw).trim(), 10);
  if (!Number.isFinite(n) || n < 0) return DEFAULT_EXPIRES_S;
  return Math.min(n, MAX_EXPIRES_S);
}

// A registration storm answers several REGISTERs within one millisecond: format the Date once.
let dateAtMs = -1;
let dateText = '';
function gbDateNow(): string {
  const now = Date.now();
  if (now !== dateAtMs) {
    dateAtMs = now;
    dateText = gbDate(new Date(now));
  }
  return dateText;
}

/** `yyyy-MM-ddTHH:mm:ss.SSS` in local time: devices set their clock from it. */
export function gbDate(d: Date): string {
  const p2 = (n: number) => (n < 10 ? '0' : '') + n;
  const ms = d.getMilliseconds();
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}`;
}
