// The `sip` package (0.0.6) ships no types. Only the parser/serialiser parts we use are declared.
declare module 'sip' {
  export interface SipUri {
    schema?: string;
    user?: string;
    password?: string;
    host: string;
    port?: number;
    params?: Record<string, string | null>;
    headers?: Record<string, string>;
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
    authorization?: SipAuthHeader[] | string; // a string is sent as it is
    'content-length'?: number;
    [name: string]: unknown;
  }
  /** Strings are latin1: one char per byte. */
  export interface SipMessage {
    method?: string;
    uri?: string;
    status?: number;
    reason?: string;
    version?: string;
    headers: SipHeaders;
    content?: string;
  }
  export function parse(s: string): SipMessage | undefined;
  export function stringify(m: SipMessage): string;
  export function parseUri(s: string): SipUri | undefined;
  export function stringifyUri(u: SipUri | string): string;
  export function stringifyAuthHeader(a: SipAuthHeader): string;
  export function makeStreamParser(onMessage: (m: SipMessage) => void, onFlood?: () => void): (data: string) => void;
  export function makeResponse(rq: SipMessage, status: number, reason?: string, extension?: { headers?: SipHeaders; content?: string }): SipMessage;
  const sip: {
    parse: typeof parse;
    stringify: typeof stringify;
    parseUri: typeof parseUri;
    stringifyUri: typeof stringifyUri;
    stringifyAuthHeader: typeof stringifyAuthHeader;
    makeResponse: typeof makeResponse;
    makeStreamParser: typeof makeStreamParser;
  };
  export default sip;
}
