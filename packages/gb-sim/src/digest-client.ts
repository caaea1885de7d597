// Client side of SIP digest (RFC 2617 MD5, with and without qop=auth), as an IPC computes it.
import { createHash, randomBytes } from 'node:crypto';
import { unquote, type SipAuthHeader } from './sip-codec.ts';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  qop?: string;
  algorithm?: string;
}

export function readChallenge(h: SipAuthHeader | undefined): DigestChallenge | undefined {
  if (!h || h.scheme.toLowerCase() !== 'digest') return undefined;
  const realm = unquote(h.realm);
  const nonce = unquote(h.nonce);
  if (realm === undefined || nonce === undefined) return undefined;
  return { realm, nonce, opaque: unquote(h.opaque), qop: unquote(h.qop), algorithm: unquote(h.algorithm) };
}

/** Builds the Authorization header value for one request. `nc` counts uses of this nonce. */
export function digestAuthorization(o: {
  challenge: DigestChallenge;
  username: string;
  password: string;
  method: string;
  uri: string;
  nc: number;
}): string {
  const { challenge: c } = o;
  const ha1 = md5(`${o.username}:${c.realm}:${o.password}`);
  const ha2 = md5(`${o.method}:${o.uri}`);
  const parts = [
    `username="${o.username}"`,
    `realm="${c.realm}"`,
    `nonce="${c.nonce}"`,
    `uri="${o.uri}"`,
  ];
  const wantsAuthQop = c.qop !== undefined && c.qop.split(',').map((q) => q.trim()).includes('auth');
  if (wantsAuthQop) {
    const nc = o.nc.toString(16).padStart(8, '0');
    const cnonce = randomBytes(8).toString('hex');
    parts.push(`response="${md5(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`)}"`, `qop=auth`, `nc=${nc}`, `cnonce="${cnonce}"`);
  } else {
    parts.push(`response="${md5(`${ha1}:${c.nonce}:${ha2}`)}"`);
  }
  parts.push('algorithm=MD5');
  if (c.opaque !== undefined) parts.push(`opaque="${c.opaque}"`);
  return `Digest ${parts.join(', ')}`;
}
