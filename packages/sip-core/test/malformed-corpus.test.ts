// Bad input from the network: every message of the corpus is sent over UDP and over TCP; the server
// answers (400/403/405/...) or drops it with a log line, keeps serving, and a valid device registers after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import iconv from 'iconv-lite';
import { TestDevice } from './helpers/test-device.ts';
import { DEVICE_ID, SERVER_ID, startServer } from './helpers/server.ts';

const DOMAIN = '3402000000';

interface Case {
  name: string;
  data: Buffer;
  /** Expected status of the first answer, 'drop' for none, undefined when either is fine. */
  expect?: number | 'drop';
  udpOnly?: boolean;
}

let seq = 0;
function req(o: { method?: string; uri?: string; headers?: string[]; omit?: string[]; body?: string | Buffer; cl?: string; eol?: string; from?: string } = {}): Buffer {
  const eol = o.eol ?? '\r\n';
  const method = o.method ?? 'MESSAGE';
  const n = ++seq;
  const base: [string, string][] = [
    ['Via', `SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bKcorpus${n}`],
    ['From', `<sip:${o.from ?? DEVICE_ID}@${DOMAIN}>;tag=c${n}`],
    ['To', `<sip:${SERVER_ID}@${DOMAIN}>`],
    ['Call-ID', `corpus-${n}@test`],
    ['CSeq', `${n} ${method}`],
    ['Max-Forwards', '70'],
  ];
  const body = typeof o.body === 'string' ? Buffer.from(o.body, 'latin1') : (o.body ?? Buffer.alloc(0));
  const lines = [`${method} ${o.uri ?? `sip:${SERVER_ID}@${DOMAIN}`} SIP/2.0`];
  for (const [k, v] of base) if (!o.omit?.includes(k)) lines.push(`${k}: ${v}`);
  lines.push(...(o.headers ?? []));
  if (body.length > 0 && !o.headers?.some((h) => h.startsWith('Content-Type'))) lines.push('Content-Type: Application/MANSCDP+xml');
  lines.push(`Content-Length: ${o.cl ?? body.length}`);
  return Buffer.concat([Buffer.from(lines.join(eol) + eol + eol, 'latin1'), body]);
}

const xml = (inner: string, prolog = '<?xml version="1.0" encoding="GB2312"?>') => `${prolog}\r\n${inner}\r\n`;
const gb = (s: string) => iconv.encode(s, 'gb18030').toString('latin1');
const msg = (body: string | Buffer, expect?: number | 'drop') => ({ data: req({ body }), expect });

function junk(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  let x = seed;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >> 16;
  }
  return b;
}

const nested = '<a>'.repeat(5000) + '</a>'.repeat(5000);
const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><Notify><CmdType>Keepalive</CmdType><SN>&lol3;</SN></Notify>`;
const xxe = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>&e;</DeviceID></Notify>`;
const manyItems = Array.from({ length: 500 }, (_, i) => `<Item><DeviceID>3402000000132${String(i).padStart(7, '0')}</DeviceID><Name>x</Name></Item>`).join('');

const corpus: Case[] = [
  // --- SIP framing and start line
  { name: 'single byte', data: Buffer.from('x'), expect: 'drop' },
  { name: 'binary junk 256 bytes', data: junk(256, 1), expect: 'drop' },
  { name: 'binary junk 8 KB', data: junk(8192, 2), expect: 'drop' },
  { name: 'NUL bytes only', data: Buffer.alloc(64), expect: 'drop' },
  { name: 'HTTP request', data: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), expect: 'drop' },
  { name: 'start line only', data: Buffer.from(`REGISTER sip:${SERVER_ID}@${DOMAIN} SIP/2.0\r\n\r\n`), expect: 'drop' },
  { name: 'truncated inside headers', data: req({ method: 'REGISTER' }).subarray(0, 90), expect: 'drop' },
  { name: 'truncated start line', data: Buffer.from('REGIS'), expect: 'drop' },
  { name: 'SIP/3.0 version', data: Buffer.from(req().toString('latin1').replace('SIP/2.0\r\n', 'SIP/3.0\r\n'), 'latin1') },
  { name: 'request-URI garbage', data: req({ uri: '<<<>>>' }) },
  { name: 'lower-case method', data: req({ method: 'register' }) },
  { name: 'unknown method', data: req({ method: 'FOO' }), expect: 405 },
  { name: 'response without transaction', data: Buffer.from(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKnone\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n`), expect: 'drop' },
  { name: 'response with 6-digit status', data: Buffer.from(`SIP/2.0 999999 X\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKnone\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n\r\n`), expect: 'drop' },
  // --- mandatory headers
  { name: 'no Call-ID', data: req({ omit: ['Call-ID'] }), expect: 400 },
  { name: 'no CSeq', data: req({ omit: ['CSeq'] }), expect: 'drop' },
  { name: 'no From', data: req({ omit: ['From'] }), expect: 400 },
  { name: 'no To', data: req({ omit: ['To'] }), expect: 400 },
  { name: 'no Via', data: req({ omit: ['Via'] }), expect: 'drop' },
  { name: 'CSeq not a number', data: req({ omit: ['CSeq'], headers: ['CSeq: abc MESSAGE'] }), expect: 'drop' },
  { name: 'CSeq method differs', data: req({ omit: ['CSeq'], headers: ['CSeq: 5 INVITE'] }), expect: 400 },
  { name: 'Via garbage', data: req({ omit: ['Via'], headers: ['Via: garbage'] }), expect: 'drop' },
  { name: 'header line without colon', data: req({ headers: ['this is not a header'] }), expect: 400 },
  { name: 'binary header line', data: Buffer.concat([req().subarray(0, 40), junk(40, 3), Buffer.from('\r\n'), req().subarray(40)]) },
  { name: 'oversized header (20 KB)', data: req({ headers: ['X-Big: ' + 'a'.repeat(20_000)] }), expect: 'drop' },
  { name: '300 small headers', data: req({ headers: Array.from({ length: 300 }, (_, i) => `X-H${i}: ${'b'.repeat(40)}`) }) },
  { name: 'From without user', data: req({ method: 'REGISTER', omit: ['From'], headers: [`From: <sip:${DOMAIN}>;tag=1`] }), expect: 403 },
  { name: 'From user 1000 chars', data: req({ method: 'REGISTER', from: '9'.repeat(1000) }), expect: 400 },
  { name: 'From user with quotes', data: req({ method: 'REGISTER', from: '"><script>' }) },
  // --- Content-Length
  { name: 'huge Content-Length', data: req({ method: 'REGISTER', cl: '999999999' }), udpOnly: true },
  { name: 'huge Content-Length over a stream', data: req({ method: 'REGISTER', cl: '999999999' }) },
  { name: 'negative Content-Length', data: req({ method: 'OPTIONS', cl: '-5' }) },
  { name: 'Content-Length not a number', data: req({ method: 'OPTIONS', cl: 'abc' }) },
  { name: 'Content-Length larger than body', data: req({ body: xml(`<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>${DEVICE_ID}</DeviceID><Status>OK</Status></Notify>`), cl: '5000' }), expect: 200 },
  { name: 'Content-Length smaller than body (UDP)', data: req({ body: xml(`<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>${DEVICE_ID}</DeviceID><Status>OK</Status></Notify>`), cl: '20' }), udpOnly: true, expect: 200 },
  { name: 'LF-only line ends', data: req({ method: 'OPTIONS', eol: '\n' }), expect: 200 },
  // --- REGISTER / digest
  { name: 'Authorization "Digest" alone', data: req({ method: 'REGISTER', headers: ['Authorization: Digest'] }), expect: 401 },
  { name: 'Authorization Basic', data: req({ method: 'REGISTER', headers: ['Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l'] }), expect: 401 },
  { name: 'Authorization with huge nonce', data: req({ method: 'REGISTER', headers: [`Authorization: Digest username="${DEVICE_ID}",realm="${DOMAIN}",nonce="${'n'.repeat(4000)}",uri="sip:x",response="00"`] }), expect: 401 },
  { name: 'Authorization with forged nonce', data: req({ method: 'REGISTER', headers: [`Authorization: Digest username="${DEVICE_ID}",realm="${DOMAIN}",nonce="zzzzzz.AAAAAAAAAAAAAAAAAAAAAA",uri="sip:x",response="0123456789abcdef0123456789abcdef"`] }), expect: 401 },
  { name: 'Expires not a number', data: req({ method: 'REGISTER', headers: ['Expires: abc'] }), expect: 401 },
  { name: 'Contact garbage', data: req({ method: 'REGISTER', headers: ['Contact: <<<<'] }), expect: 401 },
  { name: 'unknown device REGISTER', data: req({ method: 'REGISTER', from: '34020000001329999999' }), expect: 403 },
  // --- MANSCDP bodies from the registered device
  { name: 'MESSAGE with empty body', data: req(), expect: 400 },
  msgCase('body not XML', 'hello world', 400),
  msgCase('binary body', junk(500, 4).toString('latin1'), 400),
  msgCase('billion laughs', bomb, 400),
  msgCase('external entity (XXE)', xxe, 400),
  msgCase('XML nested 5000 deep', nested, 400),
  msgCase('missing CmdType', xml('<Notify><SN>1</SN><DeviceID>x</DeviceID></Notify>'), 400),
  msgCase('missing SN in a Response', xml(`<Response><CmdType>Catalog</CmdType><DeviceID>${DEVICE_ID}</DeviceID></Response>`), 200),
  msgCase('missing DeviceID in a keepalive', xml('<Notify><CmdType>Keepalive</CmdType><SN>1</SN></Notify>'), 200),
  msgCase('unknown CmdType', xml('<Notify><CmdType>Teleport</CmdType><SN>1</SN></Notify>'), 200),
  msgCase('UTF-8 prolog over GBK bytes', gb(xml(`<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>大门</DeviceID></Notify>`, '<?xml version="1.0" encoding="UTF-8"?>')), 200),
  msgCase('unknown encoding in prolog', xml('<Notify><CmdType>Keepalive</CmdType><SN>1</SN></Notify>', '<?xml version="1.0" encoding="EBCDIC-XYZ"?>'), 200),
  msgCase('truncated XML', xml(`<Notify><CmdType>Keepalive</CmdType><SN>1</SN><Devi`), 400),
  msgCase('invalid UTF-8 without prolog', '<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>\xff\xfe\xfd</DeviceID></Notify>', 200),
  msgCase('Catalog with bad SumNum, Num and an item without DeviceID', xml(`<Response><CmdType>Catalog</CmdType><SN>77</SN><DeviceID>${DEVICE_ID}</DeviceID><SumNum>abc</SumNum><DeviceList Num="-1"><Item><Name>x</Name></Item><Item/></DeviceList></Response>`), 200),
  msgCase('Catalog of 500 items in one message', xml(`<Response><CmdType>Catalog</CmdType><SN>78</SN><DeviceID>${DEVICE_ID}</DeviceID><SumNum>500</SumNum><DeviceList Num="500">${manyItems}</DeviceList></Response>`), 200),
  msgCase('SN with 30 digits', xml(`<Notify><CmdType>Keepalive</CmdType><SN>${'9'.repeat(30)}</SN><DeviceID>${DEVICE_ID}</DeviceID></Notify>`), 200),
  msgCase('RecordInfo with bad times, unsolicited', xml(`<Response><CmdType>RecordInfo</CmdType><SN>5</SN><DeviceID>x</DeviceID><SumNum>1</SumNum><RecordList Num="1"><Item><StartTime>yesterday</StartTime></Item></RecordList></Response>`), 200),
  msgCase('MediaStatus without NotifyType', xml(`<Notify><CmdType>MediaStatus</CmdType><SN>5</SN><DeviceID>${DEVICE_ID}</DeviceID></Notify>`), 200),
  msgCase('BOM plus GB2312 prolog', '\xef\xbb\xbf' + xml(`<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>${DEVICE_ID}</DeviceID></Notify>`), 200),
  msgCase('CDATA, comments and a processing instruction', xml(`<!-- c --><Notify><?pi x?><CmdType><![CDATA[Keepalive]]></CmdType><SN>1</SN></Notify>`), 200),
  msgCase('attributes only, no children', xml('<Notify CmdType="Keepalive"/>'), 400),
  msgCase('two root elements', xml(`<Notify><CmdType>Keepalive</CmdType><SN>1</SN></Notify><Notify><CmdType>Keepalive</CmdType></Notify>`)),
  msgCase('text root', xml('just text'), 400),
  msgCase('UTF-16 body', Buffer.from('<Notify><CmdType>Keepalive</CmdType></Notify>', 'utf16le').toString('latin1'), 400),
  { name: 'MESSAGE from an unregistered device', data: req({ from: '34020000001320000999', body: xml('<Notify><CmdType>Keepalive</CmdType><SN>1</SN></Notify>') }), expect: 403 },
  { name: 'device BYE for an unknown call', data: req({ method: 'BYE' }), expect: 200 },
  { name: 'CANCEL for nothing', data: req({ method: 'CANCEL' }), expect: 481 },
  { name: 'INVITE from a device', data: req({ method: 'INVITE', body: 'v=0\r\n', headers: ['Content-Type: application/sdp'] }), expect: 501 },
];

function msgCase(name: string, body: string, expect?: number | 'drop'): Case {
  return { name, ...msg(body, expect) };
}

function statusOf(b: Buffer): number | undefined {
  const m = /^SIP\/2\.0 (\d{3}) /.exec(b.toString('latin1', 0, 16));
  return m ? Number(m[1]) : undefined;
}

function probe(branch: string): Buffer {
  return Buffer.from(
    `OPTIONS sip:${SERVER_ID}@${DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=${branch}\r\nFrom: <sip:probe@${DOMAIN}>;tag=p\r\nTo: <sip:${SERVER_ID}@${DOMAIN}>\r\nCall-ID: ${branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
    'latin1',
  );
}

function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), lines };
}

test('the malformed corpus has at least 50 messages', () => {
  assert.ok(corpus.length >= 50, `${corpus.length} messages`);
});

test('over UDP each malformed message is answered or dropped, the server stays up, and a device registers after', async () => {
  const { logger, lines } = capturingLogger();
  const server = await startServer({ logger });
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const inbox: Buffer[] = [];
  let onPacket: (() => void) | undefined;
  sock.on('message', (b) => {
    inbox.push(b);
    onPacket?.();
  });
  try {
    assert.equal((await dev.register()).status, 200);
    const failures: string[] = [];
    for (const [i, c] of corpus.entries()) {
      inbox.length = 0;
      const branch = `z9hG4bKprobe${i}`;
      const answered = new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`server silent after "${c.name}"`)), 5000);
        onPacket = () => {
          if (inbox.some((b) => b.toString('latin1').includes(branch))) {
            clearTimeout(t);
            resolve();
          }
        };
      });
      sock.send(c.data, server.port, '127.0.0.1');
      sock.send(probe(branch), server.port, '127.0.0.1');
      await answered;
      const replies = inbox.filter((b) => !b.toString('latin1').includes(branch));
      const first = replies[0] ? statusOf(replies[0]) : 'drop';
      if (c.expect !== undefined && first !== c.expect) failures.push(`${c.name}: expected ${c.expect}, got ${first}`);
    }
    assert.deepEqual(failures, []);
    assert.ok(lines.some((l) => l.includes('malformed message dropped')), 'drops are logged');
    assert.ok(lines.some((l) => l.includes('answered 400')), '400s are logged');
    const fresh = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
    assert.equal((await fresh.register()).status, 200);
    await fresh.close();
  } finally {
    sock.close();
    await dev.close();
    await server.close();
  }
});

test('over TCP each malformed message is answered or dropped, the server stays up, and a device registers after', async () => {
  const server = await startServer({ logger: capturingLogger().logger });
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port, transport: 'tcp' });
  try {
    assert.equal((await dev.register()).status, 200);
    const cases = corpus.filter((c) => !c.udpOnly);
    // All at once, one connection each: a message that breaks framing only costs its own connection.
    const results = await Promise.all(
      cases.map(
        (c) =>
          new Promise<{ c: Case; got: number | 'drop' }>((resolve) => {
            const s = net.connect({ host: '127.0.0.1', port: server.port });
            let buf = Buffer.alloc(0);
            const done = () => {
              clearTimeout(t);
              s.destroy();
              resolve({ c, got: buf.length > 0 ? (statusOf(buf) ?? 'drop') : 'drop' });
            };
            const t = setTimeout(done, 3000);
            s.on('data', (d: Buffer) => {
              buf = Buffer.concat([buf, d]);
              if (buf.includes('\r\n\r\n')) done();
            });
            s.on('error', () => undefined);
            s.on('close', done);
            s.write(c.data);
          }),
      ),
    );
    const failures = results
      .filter(({ c, got }) => c.expect !== undefined && got !== c.expect)
      .map(({ c, got }) => `${c.name}: expected ${c.expect}, got ${got}`);
    assert.deepEqual(failures, []);
    assert.equal((await dev.request('OPTIONS')).status, 200, 'the first connection still works');
    const fresh = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port, transport: 'tcp' });
    assert.equal((await fresh.register()).status, 200);
    await fresh.close();
  } finally {
    await dev.close();
    await server.close();
  }
});
