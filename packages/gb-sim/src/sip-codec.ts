// The `sip` package's parser and serialiser, with the latin1 and LF-only handling devices need.
// Types come from sip-core's declaration of the package (packages/sip-core/types/sip.d.ts).
import sip from 'sip';
import type { SipHeaders, SipMessage, SipUri } from 'sip';

export type { SipAuthHeader, SipHeaders, SipMessage, SipNameAddr, SipUri, SipVia } from 'sip';

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
