// Parse and serialise SIP around the `sip` package, with the tolerance real devices need:
// LF-only line ends, a Content-Length that disagrees with the body, junk that still lets us answer 400.
// All strings are latin1 (one char per byte), as `sip` keeps them.
import sip from 'sip';
import type { SipAuthHeader, SipMessage, SipUri } from 'sip';

export type { SipMessage } from 'sip';

/** Longest header section we accept (bytes). */
export const MAX_HEADER_BYTES = 16 * 1024;

export class SipParseError extends Error {
  override name = 'SipParseError';
  constructor(
    message: string,
    /** Whatever could be recovered, enough to build a 400 when it is a request. */
    readonly partial?: SipMessage,
  ) {
    super(message);
  }
}

const HEADER_END = /\r?\n\r?\n/;
const REQUEST_LINE = /^([A-Za-z][\w\-.!%*+`'~]*) (\S+) SIP\/2\.0$/;
const HEADER_LINE = /^[\w\-.!%*+`'~]+[ \t]*:/;

/**
 * Decodes one SIP message. The body is everything after the blank line: over UDP a wrong
 * Content-Length is common (devices count characters, not GB2312 bytes); stream framing has
 * already cut the message to size.
 */
export function decodeSipMessage(raw: Buffer): SipMessage {
  if (raw.length === 0) throw new SipParseError('empty message');
  let s = raw.toString('latin1');
  if (s.charCodeAt(0) <= 0x20) s = s.replace(/^\s+/, '');
  const sep = HEADER_END.exec(s);
  let head = sep ? s.slice(0, sep.index) : s.replace(/\s+$/, '');
  const body = sep ? s.slice(sep.index + sep[0].length) : '';
  if (head.length > MAX_HEADER_BYTES) throw new SipParseError(`header section over ${MAX_HEADER_BYTES} bytes`);
  if (head.indexOf('\r\n') === -1 || /(?:^|[^\r])\n/.test(head)) head = head.replace(/\r?\n/g, '\r\n');
  const m = sip.parse(head + '\r\n\r\n');
  if (!m) throw new SipParseError('unparsable message', salvage(head));
  m.content = body;
  const problem = missingMandatory(m);
  if (problem) throw new SipParseError(problem, m);
  return m;
}

function missingMandatory(m: SipMessage): string | undefined {
  const h = m.headers;
  if (!m.method && !(typeof m.status === 'number' && m.status >= 100 && m.status <= 699)) return 'bad start line';
  if (!Array.isArray(h.via) || h.via.length === 0 || !h.via[0]?.host) return 'missing or bad Via';
  if (!h['call-id'] || typeof h['call-id'] !== 'string') return 'missing Call-ID';
  if (!h.from || typeof h.from.uri !== 'string') return 'missing or bad From';
  if (!h.to || typeof h.to.uri !== 'string') return 'missing or bad To';
  if (!h.cseq || !Number.isFinite(h.cseq.seq) || !h.cseq.method) return 'missing or bad CSeq';
  if (m.method && m.method !== h.cseq.method && !(m.method === 'ACK' || m.method === 'CANCEL')) return 'CSeq method differs from request method';
  return undefined;
}

/** A request whose header lines are partly junk: keep the start line and the lines that look like headers. */
function salvage(head: string): SipMessage | undefined {
  const lines = head.split('\r\n');
  if (!REQUEST_LINE.test(lines[0] ?? '')) return undefined;
  const kept = [lines[0]!];
  for (let i = 1; i < lines.length; i++) if (HEADER_LINE.test(lines[i]!)) kept.push(lines[i]!);
  return sip.parse(kept.join('\r\n') + '\r\n\r\n');
}

/**
 * Serialises like `sip.stringify` (Content-Length counted in chars of a latin1 body, so bodies must
 * already be byte strings) but without its per-header regex: it sits on the REGISTER hot path.
 * Messages with headers we do not lay out ourselves go through `sip.stringify`.
 */
export function encodeSipMessage(m: SipMessage): Buffer {
  return Buffer.from(stringifyMessage(m), 'latin1');
}

const headerNames = new Map<string, string>([
  ['call-id', 'Call-ID'],
  ['cseq', 'CSeq'],
  ['www-authenticate', 'WWW-Authenticate'],
]);

function headerName(n: string): string {
  let p = headerNames.get(n);
  if (p === undefined) {
    p = n.replace(/\b([a-z])/g, (c) => c.toUpperCase());
    headerNames.set(n, p);
  }
  return p;
}

function params(p: Record<string, string | null> | undefined): string {
  let s = '';
  if (p) for (const k in p) s += p[k] ? `;${k}=${p[k]}` : `;${k}`;
  return s;
}

function aor(a: { name?: string; uri: string | SipUri; params?: Record<string, string | null> }): string {
  return `${a.name ? a.name + ' ' : ''}<${sip.stringifyUri(a.uri)}>${params(a.params)}`;
}

export function stringifyMessage(m: SipMessage): string {
  let s = m.status !== undefined ? `SIP/2.0 ${m.status} ${m.reason ?? ''}\r\n` : `${m.method} ${m.uri} SIP/2.0\r\n`;
  const h = m.headers;
  for (const n in h) {
    const v = h[n];
    if (v === undefined || n === 'content-length') continue;
    switch (n) {
      case 'via':
        for (const via of h.via!) {
          s += `Via: SIP/${via.version || '2.0'}/${via.protocol.toUpperCase()} ${via.host}${via.port ? ':' + via.port : ''}${params(via.params)}\r\n`;
        }
        break;
      case 'to':
        s += `To: ${aor(h.to!)}\r\n`;
        break;
      case 'from':
        s += `From: ${aor(h.from!)}\r\n`;
        break;
      case 'contact':
        s += `Contact: ${h.contact === '*' ? '*' : h.contact!.map(aor).join(', ')}\r\n`;
        break;
      case 'cseq':
        s += `CSeq: ${h.cseq!.seq} ${h.cseq!.method}\r\n`;
        break;
      case 'www-authenticate':
      case 'authorization':
      case 'proxy-authenticate':
      case 'proxy-authorization':
        for (const a of v as SipAuthHeader[]) s += `${headerName(n)}: ${sip.stringifyAuthHeader(a)}\r\n`;
        break;
      default:
        if (typeof v !== 'string' && typeof v !== 'number') return sip.stringify(m);
        s += `${headerName(n)}: ${v}\r\n`;
    }
  }
  const body = m.content ?? '';
  return s + `Content-Length: ${body.length}\r\n\r\n` + body;
}

/**
 * A 400 for a malformed request, when there is enough of it to address a response;
 * undefined for responses, ACKs and unrecoverable junk (those are only logged).
 */
export function badRequestFor(partial: SipMessage | undefined, reason: string): SipMessage | undefined {
  if (!partial || !partial.method || partial.method === 'ACK') return undefined;
  const h = partial.headers;
  const headers: SipMessage['headers'] = {};
  if (Array.isArray(h.via) && h.via.length > 0 && h.via[0]?.host) headers.via = h.via;
  if (h.from && typeof h.from.uri === 'string') headers.from = h.from;
  if (h.to && typeof h.to.uri === 'string') headers.to = h.to;
  if (typeof h['call-id'] === 'string') headers['call-id'] = h['call-id'];
  if (h.cseq && Number.isFinite(h.cseq.seq) && h.cseq.method) headers.cseq = h.cseq;
  // Without a Via or CSeq the peer could not match the answer to anything.
  if (!headers.via || !headers.cseq) return undefined;
  return {
    status: 400,
    reason: 'Bad Request - ' + reason.replace(/[^\x20-\x7e]/g, '').slice(0, 80),
    version: '2.0',
    headers,
  };
}

/** Response skeleton copying Via/From/To/Call-ID/CSeq; `toTag` is added when the To has none. */
export function makeResponse(rq: SipMessage, status: number, reason: string, toTag?: string): SipMessage {
  const h = rq.headers;
  let to = h.to;
  if (toTag && to && !to.params?.tag) to = { name: to.name, uri: to.uri, params: { ...to.params, tag: toTag } };
  return {
    status,
    reason,
    version: '2.0',
    headers: { via: h.via, from: h.from, to, 'call-id': h['call-id'], cseq: h.cseq },
  };
}

/** User part of a SIP URI string (`sip:340200...@host`). */
export function uriUser(uri: string | undefined): string | undefined {
  if (!uri) return undefined;
  const m = /^sips?:([^@;>:]+)@/i.exec(uri);
  return m ? m[1] : undefined;
}

/** First value of a generic (string) header; `sip` joins repeated ones with commas. */
export function headerString(m: SipMessage, name: string): string | undefined {
  const v = m.headers[name];
  return typeof v === 'string' ? v : undefined;
}
