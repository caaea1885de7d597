// Typed access to the `sip` package's parser and serialiser. The package ships no types and
// other workspaces declare their own ambient module, so it is loaded through createRequire with a
// local interface instead of a second `declare module 'sip'` that could clash with theirs.
import { createRequire } from 'node:module';

export interface SipUri {
  schema?: string;
  user?: string;
  host: string;
  port?: number;
  params?: Record<string, string | null>;
}

export interface SipVia {
  version?: string;
  protocol: string;
  host: string;
  port?: number;
  params: Record<string, string | null>;
}

export interface SipNameAddr {
  name?: string;
  uri: string;
  params: Record<string, string | null>;
}

export type SipAuthHeader = { scheme: string } & Record<string, string | undefined>;

export interface SipHeaders {
  via?: SipVia[];
  to?: SipNameAddr;
  from?: SipNameAddr;
  'call-id'?: string;
  cseq?: { seq: number; method: string };
  contact?: SipNameAddr[] | '*';
  'www-authenticate'?: SipAuthHeader[];
  authorization?: SipAuthHeader[] | string;
  'content-length'?: number;
  [name: string]: unknown;
}

/** Strings are latin1: one char per byte, as the `sip` package keeps them. */
export interface SipMessage {
  method?: string;
  uri?: string;
  status?: number;
  reason?: string;
  version?: string;
  headers: SipHeaders;
  content?: string;
}

interface SipLibrary {
  parse(data: string | Buffer): SipMessage | undefined;
  stringify(m: SipMessage): string;
  parseUri(uri: string): SipUri | undefined;
  makeResponse(rq: SipMessage, status: number, reason: string, ext?: { headers?: SipHeaders; content?: string }): SipMessage;
  makeStreamParser(onMessage: (m: SipMessage) => void, onFlood?: () => void): (data: string) => void;
}

const sip = createRequire(import.meta.url)('sip') as SipLibrary;

export function parseSipMessage(data: Buffer): SipMessage | undefined {
  try {
    const m = sip.parse(data.toString('latin1'));
    return m && m.headers ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Serialises to bytes; `lfOnly` imitates firmwares that end lines with a bare LF. */
export function serializeSipMessage(m: SipMessage, lfOnly = false): Buffer {
  let s = sip.stringify(m);
  if (lfOnly) {
    const end = s.indexOf('\r\n\r\n');
    s = s.slice(0, end).replace(/\r\n/g, '\n') + '\n\n' + s.slice(end + 4);
  }
  return Buffer.from(s, 'latin1');
}

export function parseSipUri(uri: string): SipUri | undefined {
  try {
    return sip.parseUri(uri);
  } catch {
    return undefined;
  }
}

export function makeSipResponse(rq: SipMessage, status: number, reason: string, ext?: { headers?: SipHeaders; content?: string }): SipMessage {
  return sip.makeResponse(rq, status, reason, ext);
}

/** Reassembles messages from a TCP byte stream (latin1 chunks). */
export function createSipStreamParser(onMessage: (m: SipMessage) => void, onFlood: () => void): (chunk: Buffer) => void {
  const feed = sip.makeStreamParser(onMessage, onFlood);
  return (chunk) => {
    try {
      feed(chunk.toString('latin1'));
    } catch {
      onFlood();
    }
  };
}

export function unquote(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  return s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}
