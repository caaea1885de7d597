// HTTP Digest (RFC 2617, and RFC 2069 without qop) for REGISTER. The nonce is a timestamp plus
// its HMAC, so any node sharing the secret can verify it without shared state, and it expires.
import { createHash, createHmac, hash, timingSafeEqual } from 'node:crypto';
import type { SipAuthHeader } from 'sip';

export type NonceCheck = 'ok' | 'stale' | 'invalid';

const ASCII = /^[\x00-\x7f]*$/;

function md5(s: string): string {
  // One-shot hash() is about 3x cheaper than a Hash object and there are three MD5s per
  // registration; it reads strings as UTF-8, which equals latin1 only for ASCII.
  return ASCII.test(s) ? hash('md5', s, 'hex') : createHash('md5').update(s, 'latin1').digest('hex');
}

// Every nonce issued within one second shares its stamp, hence its HMAC: a small cache takes
// HMAC off the REGISTER hot path during a re-registration storm.
const macCache = new Map<string, string>();

function mac(secret: string, stamp: string): string {
  const key = stamp + '\0' + secret;
  let v = macCache.get(key);
  if (v === undefined) {
    v = createHmac('sha256', secret).update(stamp).digest('base64url').slice(0, 22);
    if (macCache.size >= 256) macCache.clear();
    macCache.set(key, v);
  }
  return v;
}

/** `<unix seconds base36>.<hmac>`: token characters only, safe inside a quoted string. */
export function createNonce(secret: string, nowMs: number = Date.now()): string {
  const stamp = Math.floor(nowMs / 1000).toString(36);
  return `${stamp}.${mac(secret, stamp)}`;
}

export function checkNonce(nonce: string, secret: string, ttlS: number, nowMs: number = Date.now()): NonceCheck {
  const dot = nonce.indexOf('.');
  if (dot <= 0 || dot > 12) return 'invalid';
  const stamp = nonce.slice(0, dot);
  const expected = mac(secret, stamp);
  const given = nonce.slice(dot + 1);
  if (given.length !== expected.length || !timingSafeEqual(Buffer.from(given), Buffer.from(expected))) return 'invalid';
  const issued = parseInt(stamp, 36);
  const age = nowMs / 1000 - issued;
  // A little clock skew between nodes is fine; a nonce from the future is not ours.
  if (!Number.isFinite(issued) || age < -30) return 'invalid';
  return age > ttlS ? 'stale' : 'ok';
}

/** WWW-Authenticate value as the `sip` package stringifies it (values carry their own quotes). */
export function challenge(realm: string, nonce: string, stale = false): SipAuthHeader {
  const h: SipAuthHeader = { scheme: 'Digest', realm: `"${realm}"`, nonce: `"${nonce}"`, algorithm: 'MD5', qop: '"auth"' };
  if (stale) h.stale = 'true';
  return h;
}

export function ha1(username: string, realm: string, password: string): string {
  return md5(`${username}:${realm}:${password}`);
}

export function unquote(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  return v.length >= 2 && v.charCodeAt(0) === 34 && v.charCodeAt(v.length - 1) === 34 ? v.slice(1, -1) : v;
}

export interface DigestCredentials {
  username: string;
  realm?: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm?: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
}

/** The Authorization fields we need, or undefined when it is not a usable Digest header. */
export function readAuthorization(h: SipAuthHeader | undefined): DigestCredentials | undefined {
  if (!h || typeof h.scheme !== 'string' || h.scheme.toLowerCase() !== 'digest') return undefined;
  const username = unquote(h.username);
  const nonce = unquote(h.nonce);
  const uri = unquote(h.uri);
  const response = unquote(h.response);
  if (!username || !nonce || !uri || !response) return undefined;
  return {
    username,
    realm: unquote(h.realm),
    nonce,
    uri,
    response: response.toLowerCase(),
    algorithm: unquote(h.algorithm),
    qop: unquote(h.qop),
    nc: unquote(h.nc),
    cnonce: unquote(h.cnonce),
  };
}

/** Expected `response` for the request, using the `uri` the client signed (not our Request-URI). */
export function digestResponse(c: DigestCredentials, method: string, ha1Hex: string): string {
  const ha2 = md5(`${method}:${c.uri}`);
  if (c.qop && c.qop.toLowerCase() === 'auth') return md5(`${ha1Hex}:${c.nonce}:${c.nc ?? ''}:${c.cnonce ?? ''}:auth:${ha2}`);
  return md5(`${ha1Hex}:${c.nonce}:${ha2}`);
}

export function verifyDigest(c: DigestCredentials, method: string, ha1Hex: string): boolean {
  if (c.algorithm && c.algorithm.toUpperCase() !== 'MD5') return false;
  if (c.qop && c.qop.toLowerCase() !== 'auth') return false;
  const expected = digestResponse(c, method, ha1Hex);
  return c.response.length === expected.length && timingSafeEqual(Buffer.from(c.response), Buffer.from(expected));
}
