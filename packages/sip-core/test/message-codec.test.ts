import { test } from 'node:test';
import assert from 'node:assert/strict';
import { badRequestFor, decodeSipMessage, encodeSipMessage, SipParseError } from '../src/message-codec.ts';
import { StreamFramer } from '../src/stream-framer.ts';

const register = (eol = '\r\n', body = '', cl = String(Buffer.byteLength(body, 'latin1'))) =>
  [
    'REGISTER sip:34020000002000000001@3402000000 SIP/2.0',
    'Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1',
    'From: <sip:34020000001320000001@3402000000>;tag=1',
    'To: <sip:34020000001320000001@3402000000>',
    'Call-ID: c1',
    'CSeq: 1 REGISTER',
    `Content-Length: ${cl}`,
    '',
    body,
  ].join(eol);

test('decodeSipMessage parses CRLF and LF-only messages alike', () => {
  const a = decodeSipMessage(Buffer.from(register()));
  const b = decodeSipMessage(Buffer.from(register('\n')));
  assert.equal(a.method, 'REGISTER');
  assert.deepEqual(b.headers.cseq, { seq: 1, method: 'REGISTER' });
  assert.equal(b.headers.via![0]!.params.branch, 'z9hG4bK1');
});

test('decodeSipMessage keeps the whole datagram body when Content-Length disagrees', () => {
  assert.equal(decodeSipMessage(Buffer.from(register('\r\n', '<a>1</a>', '3'))).content, '<a>1</a>');
  assert.equal(decodeSipMessage(Buffer.from(register('\r\n', '<a>1</a>', '300'))).content, '<a>1</a>');
});

test('decodeSipMessage throws SipParseError with what a 400 needs', () => {
  const noCallId = Buffer.from(register().replace('Call-ID: c1\r\n', ''));
  const err = (() => {
    try {
      decodeSipMessage(noCallId);
    } catch (e) {
      return e as SipParseError;
    }
  })()!;
  assert.ok(err instanceof SipParseError);
  const rs = badRequestFor(err.partial, err.message)!;
  assert.equal(rs.status, 400);
  assert.equal(rs.headers.cseq!.seq, 1);
  assert.throws(() => decodeSipMessage(Buffer.from('\x00\x01\x02')), SipParseError);
  assert.equal(badRequestFor(undefined, 'x'), undefined);
});

test('encodeSipMessage counts Content-Length in bytes of a latin1 body', () => {
  const m = decodeSipMessage(Buffer.from(register()));
  m.content = Buffer.from('<名>', 'utf8').toString('latin1');
  const raw = encodeSipMessage(m);
  assert.match(raw.toString('latin1'), /Content-Length: 5\r\n/);
  assert.ok(raw.subarray(raw.length - 5).equals(Buffer.from('<名>', 'utf8')));
});

test('StreamFramer cuts messages by Content-Length across chunks, skipping pings and junk', () => {
  const out: string[] = [];
  let skipped = 0;
  const f = new StreamFramer({ message: (b) => out.push(b.toString('latin1')), error: () => assert.fail('no error expected'), skipped: (n) => (skipped += n) });
  const one = register('\r\n', 'BODY1');
  const two = register('\n', 'BODY2');
  const stream = Buffer.from('\r\n\r\n' + one + 'garbage line\r\n' + two);
  for (let i = 0; i < stream.length; i += 7) f.push(stream.subarray(i, i + 7));
  assert.equal(out.length, 2);
  assert.ok(out[0]!.endsWith('BODY1'));
  assert.ok(out[1]!.endsWith('BODY2'));
  assert.ok(skipped >= 'garbage line\r\n'.length);
});

test('StreamFramer refuses oversized headers and bodies', () => {
  const errors: string[] = [];
  const f = new StreamFramer({ message: () => assert.fail('no message expected'), error: (r) => errors.push(r), skipped: () => undefined });
  f.push(Buffer.from(register('\r\n', '', '99999999')));
  const g = new StreamFramer({ message: () => assert.fail('no message expected'), error: (r) => errors.push(r), skipped: () => undefined });
  g.push(Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nX: ' + 'a'.repeat(20000)));
  assert.equal(errors.length, 2);
  assert.match(errors[0]!, /Content-Length/);
  assert.match(errors[1]!, /header section/);
});

test('StreamFramer recovers from a Content-Length larger than the body: at the next start line, or after a pause', async () => {
  const out: string[] = [];
  const f = new StreamFramer({ message: (b) => out.push(b.toString('latin1')), error: () => assert.fail('no error expected'), skipped: () => undefined }, 50);
  f.push(Buffer.from(register('\r\n', '<a>1</a>', '500') + register('\r\n', '<b>2</b>', '500')));
  assert.equal(out.length, 1);
  assert.ok(out[0]!.endsWith('<a>1</a>'));
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(out.length, 2);
  assert.ok(out[1]!.endsWith('<b>2</b>'));
  f.close();
});
