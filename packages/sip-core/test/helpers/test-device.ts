// A minimal GB28181 device for tests: real UDP/TCP sockets, the `sip` package's parse/stringify,
// digest computed by hand. It is a test peer, not a simulator (packages/gb-sim is that).
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import sip from 'sip';
import type { SipMessage } from 'sip';
import iconv from 'iconv-lite';
import { StreamFramer } from '../../src/stream-framer.ts';

const md5 = (s: string) => createHash('md5').update(s, 'latin1').digest('hex');

export interface TestDeviceOptions {
  deviceId: string;
  password?: string;
  serverPort: number;
  transport?: 'udp' | 'tcp';
  serverId?: string;
}

type Waiter = { match: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void };

export class TestDevice {
  readonly deviceId: string;
  readonly transport: 'udp' | 'tcp';
  password: string;
  serverId: string;
  #udp?: dgram.Socket;
  #tcp?: net.Socket;
  #waiters: Waiter[] = [];
  /** Requests the server sent us, in order. */
  readonly requests: SipMessage[] = [];
  /** Everything received, raw. */
  readonly received: Buffer[] = [];
  /** Called for each request from the server; return a response to send, or undefined for the default 200. */
  onRequest?: (rq: SipMessage) => SipMessage | null | undefined;
  #cseq = 1;
  readonly callId = randomBytes(8).toString('hex') + '@test';
  readonly tag = randomBytes(4).toString('hex');
  localPort = 0;

  private constructor(private readonly o: TestDeviceOptions) {
    this.deviceId = o.deviceId;
    this.password = o.password ?? '12345678';
    this.transport = o.transport ?? 'udp';
    this.serverId = o.serverId ?? '34020000002000000001';
  }

  static async open(o: TestDeviceOptions): Promise<TestDevice> {
    const d = new TestDevice(o);
    if (d.transport === 'udp') {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      s.on('message', (b, rinfo) => d.#onRaw(b, rinfo.port));
      d.#udp = s;
      d.localPort = s.address().port;
    } else {
      const s = net.connect({ host: '127.0.0.1', port: o.serverPort });
      await new Promise<void>((r, j) => {
        s.once('connect', () => r());
        s.once('error', j);
      });
      s.on('error', () => undefined);
      const framer = new StreamFramer({ message: (b) => d.#onRaw(b), error: () => undefined, skipped: () => undefined });
      s.on('data', (b: Buffer) => framer.push(b));
      d.#tcp = s;
      d.localPort = s.localPort!;
    }
    return d;
  }

  get domain(): string {
    return this.serverId.slice(0, 10);
  }

  sendRaw(b: Buffer | string, port = this.o.serverPort): void {
    const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
    if (this.#udp) this.#udp.send(buf, port, '127.0.0.1');
    else this.#tcp!.write(buf);
  }

  send(m: SipMessage, port?: number): void {
    this.sendRaw(sip.stringify(m), port);
  }

  #onRaw(b: Buffer, fromPort?: number): void {
    this.received.push(b);
    const m = sip.parse(b.toString('latin1'));
    if (!m) return;
    for (const w of this.#waiters) {
      if (w.match(m)) {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        w.resolve(m);
        return;
      }
    }
    if (m.method) {
      this.requests.push(m);
      if (m.method === 'ACK') return;
      const custom = this.onRequest?.(m);
      if (custom === null) return;
      this.send(custom ?? sip.makeResponse(m, 200, 'OK'), fromPort);
    }
  }

  /** Resolves with the next message matching `match` (responses and requests). */
  waitFor(match: (m: SipMessage) => boolean, timeoutMs = 5000): Promise<SipMessage> {
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        match,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
      };
      const t = setTimeout(() => {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        reject(new Error('timeout waiting for a SIP message'));
      }, timeoutMs);
      this.#waiters.push(w);
    });
  }

  /** Next request from the server with this method (already queued or still to come). */
  async nextRequest(method: string, timeoutMs = 5000): Promise<SipMessage> {
    const i = this.requests.findIndex((r) => r.method === method);
    if (i !== -1) return this.requests.splice(i, 1)[0]!;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      const j = this.requests.findIndex((r) => r.method === method);
      if (j !== -1) return this.requests.splice(j, 1)[0]!;
    }
    throw new Error(`no ${method} from the server within ${timeoutMs} ms`);
  }

  /** A request from this device; resolves with the first final response. */
  request(method: string, extra: { headers?: Record<string, unknown>; content?: string; callId?: string; uri?: string } = {}): Promise<SipMessage> {
    const branch = 'z9hG4bK' + randomBytes(6).toString('hex');
    const cseq = this.#cseq++;
    const m: SipMessage = {
      method,
      uri: extra.uri ?? `sip:${this.serverId}@${this.domain}`,
      version: '2.0',
      headers: {
        via: [{ version: '2.0', protocol: this.transport.toUpperCase(), host: '192.168.1.64', port: 5060, params: { rport: null, branch } }],
        from: { uri: `sip:${this.deviceId}@${this.domain}`, params: { tag: this.tag } },
        to: { uri: method === 'REGISTER' ? `sip:${this.deviceId}@${this.domain}` : `sip:${this.serverId}@${this.domain}`, params: {} },
        'call-id': extra.callId ?? this.callId,
        cseq: { seq: cseq, method },
        contact: [{ uri: `sip:${this.deviceId}@192.168.1.64:5060`, params: {} }],
        'max-forwards': '70',
        ...(extra.headers ?? {}),
      },
      content: extra.content,
    };
    const p = this.waitFor((r) => r.status !== undefined && r.status >= 200 && r.headers.via?.[0]?.params?.branch === branch);
    this.send(m);
    return p;
  }

  /** REGISTER with the 401 round trip. `qop: false` answers RFC 2069 style. */
  async register(o: { expires?: number; password?: string; qop?: boolean; uri?: string } = {}): Promise<SipMessage> {
    const headers = { expires: String(o.expires ?? 3600) };
    const first = await this.request('REGISTER', { headers });
    if (first.status !== 401) return first;
    const ch = first.headers['www-authenticate']![0]!;
    return this.request('REGISTER', { headers: { ...headers, authorization: [this.authorization(ch, o)] } });
  }

  authorization(ch: Record<string, string | undefined>, o: { password?: string; qop?: boolean; uri?: string } = {}) {
    const unq = (v?: string) => (v ?? '').replace(/^"|"$/g, '');
    const realm = unq(ch.realm);
    const nonce = unq(ch.nonce);
    const uri = o.uri ?? `sip:${this.serverId}@${this.domain}`;
    const ha1 = md5(`${this.deviceId}:${realm}:${o.password ?? this.password}`);
    const ha2 = md5(`REGISTER:${uri}`);
    const useQop = o.qop !== false && unq(ch.qop).includes('auth');
    const cnonce = randomBytes(4).toString('hex');
    const nc = '00000001';
    const response = useQop ? md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
    const h: Record<string, string> = {
      scheme: 'Digest',
      username: `"${this.deviceId}"`,
      realm: `"${realm}"`,
      nonce: `"${nonce}"`,
      uri: `"${uri}"`,
      response: `"${response}"`,
      algorithm: 'MD5',
    };
    if (useQop) Object.assign(h, { qop: 'auth', nc, cnonce: `"${cnonce}"` });
    return h;
  }

  /** MESSAGE with a MANSCDP body encoded in `charset`. */
  message(xml: string, charset: 'gb18030' | 'utf-8' = 'gb18030'): Promise<SipMessage> {
    return this.request('MESSAGE', {
      headers: { 'content-type': 'Application/MANSCDP+xml' },
      content: iconv.encode(xml, charset).toString('latin1'),
    });
  }

  keepalive(sn = 1): Promise<SipMessage> {
    return this.message(
      `<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>${sn}</SN>\r\n<DeviceID>${this.deviceId}</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n`,
    );
  }

  async close(): Promise<void> {
    if (this.#udp) await new Promise<void>((r) => this.#udp!.close(() => r()));
    if (this.#tcp) this.#tcp.destroy();
  }
}

/** Body of a MANSCDP request from the server, decoded. */
export function bodyText(m: SipMessage): string {
  return iconv.decode(Buffer.from(m.content ?? '', 'latin1'), 'gb18030');
}

export function xmlField(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
}
