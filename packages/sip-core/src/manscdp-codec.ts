// MANSCDP bodies: bytes → text by charset (prolog, per-device override, GB2312/GBK read as GB18030,
// invalid UTF-8 falls back to GB18030), text → tolerant XML tree; and our XML → bytes in the device's charset.
import iconv from 'iconv-lite';
import xml2js from 'xml2js';
import type { Charset } from './types.ts';

/** Larger bodies are refused before parsing (1 MB of XML blocks the event loop ~0.8 s here). */
export const MAX_MANSCDP_BYTES = 512 * 1024;

export type XmlValue = string | XmlNode | XmlValue[];
export interface XmlNode {
  [tag: string]: XmlValue | Record<string, string> | undefined;
  /** Attributes. */
  $?: Record<string, string>;
}

/** Decoded MANSCDP message; tag names are lower-cased, values trimmed. */
export interface ManscdpMessage {
  /** Query | Control | Notify | Response (as written, first letter upper-cased). */
  root: string;
  /** Canonical spelling when known (Keepalive, Catalog, ...), else as sent. */
  cmdType: string;
  sn?: number;
  deviceId?: string;
  body: XmlNode;
  /** Charset the body was read with: what replies to this device should use. */
  charset: 'gb18030' | 'utf-8';
}

export class ManscdpError extends Error {
  override name = 'ManscdpError';
}

const CMD_TYPES = [
  'Keepalive', 'Catalog', 'DeviceInfo', 'DeviceStatus', 'RecordInfo', 'MediaStatus', 'Alarm', 'MobilePosition',
  'DeviceControl', 'DeviceConfig', 'ConfigDownload', 'PresetQuery', 'Broadcast', 'HomePositionQuery', 'CruiseTrackListQuery',
];
const CANONICAL = new Map(CMD_TYPES.map((c) => [c.toLowerCase(), c]));
const PROLOG_ENCODING = /^\s*<\?xml[^>]*?encoding\s*=\s*["']\s*([^"'\s]+)\s*["']/i;
const GB_NAMES = /^(gb2312|gb_2312.*|gbk|gb18030|cp936|euc-cn|x-gbk)$/;
const STRAY_AMP = /&(?!(?:[A-Za-z][\w.-]*|#\d+|#x[0-9A-Fa-f]+);)/g;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes (as the latin1 string `sip` gives us) → text, with the charset used. */
export function decodeBodyText(latin1: string, override: Charset = 'auto'): { text: string; charset: 'gb18030' | 'utf-8' } {
  let bytes = Buffer.from(latin1, 'latin1');
  let bom = false;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    bytes = bytes.subarray(3);
    bom = true;
  }
  let charset: 'gb18030' | 'utf-8';
  if (override === 'utf-8' || override === 'gb18030') charset = override;
  else if (bom) charset = 'utf-8';
  else {
    const declared = PROLOG_ENCODING.exec(latin1.slice(0, 200))?.[1]?.toLowerCase();
    if (declared && GB_NAMES.test(declared)) charset = 'gb18030';
    else charset = 'utf-8';
  }
  if (charset === 'utf-8') {
    try {
      return { text: stripBom(utf8.decode(bytes)), charset };
    } catch {
      // Declared (or assumed) UTF-8 but it is not: Chinese devices mean GB18030.
      charset = 'gb18030';
    }
  }
  return { text: stripBom(iconv.decode(bytes, 'gb18030')), charset };
}

function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

function parseXml(text: string): Record<string, XmlValue> {
  let result: Record<string, XmlValue> | undefined;
  let error: unknown;
  let done = false;
  xml2js.parseString(
    text,
    {
      explicitArray: false,
      explicitRoot: true,
      trim: true,
      emptyTag: '',
      strict: true,
      async: false,
      tagNameProcessors: [(n: string) => n.toLowerCase()],
    },
    (err: Error | null, r: unknown) => {
      // xml2js can call back twice on some errors: the first answer counts.
      if (done) return;
      done = true;
      error = err;
      result = r as Record<string, XmlValue> | undefined;
    },
  );
  if (error) throw error;
  if (!result || typeof result !== 'object') throw new ManscdpError('empty XML document');
  return result;
}

// A flat ASCII document of simple elements (the usual keepalive): read without the XML parser,
// which costs ~10x more and would dominate at 100k devices' keepalives.
const FLAT_DOC = /^\s*(?:<\?xml[^>]*\?>\s*)?<(Notify|Response|Query|Control)>\s*((?:<([A-Za-z]\w*)>[^<&]*<\/\3>\s*)+)<\/\1>\s*$/;
const FLAT_FIELD = /<([A-Za-z]\w*)>([^<]*)<\/\1>/g;

function decodeFlat(latin1: string, override: Charset): ManscdpMessage | undefined {
  if (latin1.length > 1024 || !/^[\x09\x0a\x0d\x20-\x7e]*$/.test(latin1)) return undefined;
  const m = FLAT_DOC.exec(latin1);
  if (!m) return undefined;
  const body: XmlNode = {};
  for (const f of m[2]!.matchAll(FLAT_FIELD)) {
    const tag = f[1]!.toLowerCase();
    if (body[tag] !== undefined) return undefined;
    body[tag] = f[2]!.trim();
  }
  const rawCmd = text1(body, 'cmdtype');
  if (!rawCmd) return undefined;
  let charset: 'gb18030' | 'utf-8' = 'utf-8';
  if (override === 'gb18030' || override === 'utf-8') charset = override;
  else {
    const declared = PROLOG_ENCODING.exec(latin1)?.[1]?.toLowerCase();
    if (declared && GB_NAMES.test(declared)) charset = 'gb18030';
  }
  return {
    root: m[1]!,
    cmdType: CANONICAL.get(rawCmd.toLowerCase()) ?? rawCmd,
    sn: int(body, 'sn'),
    deviceId: text1(body, 'deviceid'),
    body,
    charset,
  };
}

/** Body (latin1 bytes) → message. Throws ManscdpError for anything unusable. */
export function decodeManscdp(latin1: string, override: Charset = 'auto'): ManscdpMessage {
  if (latin1.length > MAX_MANSCDP_BYTES) throw new ManscdpError(`body over ${MAX_MANSCDP_BYTES} bytes`);
  const flat = decodeFlat(latin1, override);
  if (flat) return flat;
  const { text, charset } = decodeBodyText(latin1, override);
  // Some devices append junk (or a NUL) after the root element.
  const end = text.lastIndexOf('>');
  if (end === -1) throw new ManscdpError('no XML in body');
  let xml = text.slice(0, end + 1);
  // MANSCDP has no use for a DTD; refusing it rules out entity expansion tricks outright.
  if (/<!DOCTYPE/i.test(xml)) throw new ManscdpError('DOCTYPE not allowed');
  // Unescaped `&` in names is common; escape the ones that start no entity reference.
  if (xml.includes('&')) xml = xml.replace(STRAY_AMP, '&amp;');
  let doc: Record<string, XmlValue>;
  try {
    doc = parseXml(xml);
  } catch (err) {
    throw new ManscdpError(`bad XML: ${(err as Error).message.split('\n')[0]}`);
  }
  const rootTag = Object.keys(doc)[0];
  if (!rootTag) throw new ManscdpError('no root element');
  const body = doc[rootTag];
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ManscdpError(`<${rootTag}> has no children`);
  const rawCmd = text1(body, 'cmdtype');
  if (!rawCmd) throw new ManscdpError('missing CmdType');
  const cmdType = CANONICAL.get(rawCmd.toLowerCase()) ?? rawCmd;
  const sn = int(body, 'sn');
  return {
    root: rootTag.charAt(0).toUpperCase() + rootTag.slice(1),
    cmdType,
    sn,
    deviceId: text1(body, 'deviceid'),
    body,
    charset,
  };
}

/** First text value of a child (tag lower-case); undefined when absent or empty. */
export function text1(node: XmlNode | undefined, tag: string): string | undefined {
  if (!node) return undefined;
  let v = node[tag] as XmlValue | undefined;
  if (Array.isArray(v)) v = v[0];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v === '' ? undefined : v;
  const t = (v as XmlNode)['_'];
  return typeof t === 'string' && t !== '' ? t.trim() : undefined;
}

/** Integer child, tolerating whitespace inside the number. */
export function int(node: XmlNode | undefined, tag: string): number | undefined {
  const s = text1(node, tag);
  if (s === undefined) return undefined;
  const n = parseInt(s.replace(/\s+/g, ''), 10);
  return Number.isFinite(n) ? n : undefined;
}

export function float(node: XmlNode | undefined, tag: string): number | undefined {
  const s = text1(node, tag);
  if (s === undefined) return undefined;
  const n = parseFloat(s.replace(/\s+/g, ''));
  return Number.isFinite(n) ? n : undefined;
}

export function child(node: XmlNode | undefined, tag: string): XmlNode | undefined {
  if (!node) return undefined;
  let v = node[tag] as XmlValue | undefined;
  if (Array.isArray(v)) v = v[0];
  return v && typeof v === 'object' ? (v as XmlNode) : undefined;
}

/** Children with a tag as an array of nodes (xml2js collapses a single child to an object). */
export function children(node: XmlNode | undefined, tag: string): XmlNode[] {
  if (!node) return [];
  const v = node[tag] as XmlValue | undefined;
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.filter((x): x is XmlNode => typeof x === 'object' && x !== null && !Array.isArray(x));
}

export type XmlFields = [string, string | number | undefined][];

/** Our request as bytes (latin1 string) in the device's charset; field values are XML-escaped. */
export function encodeManscdp(root: 'Query' | 'Control' | 'Notify' | 'Response', fields: XmlFields, charset: 'gb18030' | 'utf-8', extraXml = ''): string {
  let xml = `<?xml version="1.0" encoding="${charset === 'utf-8' ? 'UTF-8' : 'GB2312'}"?>\r\n<${root}>\r\n`;
  for (const [tag, value] of fields) if (value !== undefined) xml += `<${tag}>${escapeXml(String(value))}</${tag}>\r\n`;
  xml += extraXml + `</${root}>\r\n`;
  return iconv.encode(xml, charset).toString('latin1');
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === '"' ? '&quot;' : '&apos;'));
}
