import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { challenge, checkNonce, createNonce, digestResponse, ha1, readAuthorization, verifyDigest } from '../src/digest.ts';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

test('createNonce is verified by any holder of the secret and expires after the TTL', () => {
  const now = Date.UTC(2026, 0, 1);
  const n = createNonce('s3cret', now);
  assert.match(n, /^[0-9a-z]+\.[\w-]{22}$/);
  assert.equal(checkNonce(n, 's3cret', 300, now + 10_000), 'ok');
  assert.equal(checkNonce(n, 's3cret', 300, now + 301_000), 'stale');
  assert.equal(checkNonce(n, 'other', 300, now), 'invalid');
  assert.equal(checkNonce(n.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), 's3cret', 300, now), 'invalid');
  assert.equal(checkNonce(createNonce('s3cret', now + 3_600_000), 's3cret', 300, now), 'invalid', 'from the future');
  assert.equal(checkNonce('garbage', 's3cret', 300, now), 'invalid');
  assert.equal(checkNonce('', 's3cret', 300, now), 'invalid');
});

test('challenge() sends algorithm=MD5 and qop="auth" with a quoted realm and nonce', () => {
  assert.deepEqual(challenge('3402000000', 'abc'), { scheme: 'Digest', realm: '"3402000000"', nonce: '"abc"', algorithm: 'MD5', qop: '"auth"' });
  assert.equal(challenge('r', 'n', true).stale, 'true');
});

test('verifyDigest checks RFC 2617 qop=auth and RFC 2069 responses against the uri the client signed', () => {
  const h1 = ha1('34020000001320000001', '3402000000', '12345678');
  assert.equal(h1, md5('34020000001320000001:3402000000:12345678'));
  const uri = 'sip:127.0.0.1:5060';
  const ha2 = md5(`REGISTER:${uri}`);
  const qopResp = md5(`${h1}:N:00000001:C:auth:${ha2}`);
  const withQop = readAuthorization({ scheme: 'Digest', username: '"34020000001320000001"', realm: '"3402000000"', nonce: '"N"', uri: `"${uri}"`, response: `"${qopResp.toUpperCase()}"`, qop: 'auth', nc: '00000001', cnonce: '"C"', algorithm: 'MD5' })!;
  assert.equal(verifyDigest(withQop, 'REGISTER', h1), true, 'upper-case hex accepted');
  assert.equal(verifyDigest(withQop, 'INVITE', h1), false);
  assert.equal(verifyDigest({ ...withQop, nc: '00000002' }, 'REGISTER', h1), false);
  const rfc2069 = readAuthorization({ scheme: 'Digest', username: '"d"', nonce: '"N"', uri: `"${uri}"`, response: `"${md5(`${h1}:N:${ha2}`)}"` })!;
  assert.equal(verifyDigest(rfc2069, 'REGISTER', h1), true);
  assert.equal(digestResponse(rfc2069, 'REGISTER', h1), md5(`${h1}:N:${ha2}`));
  assert.equal(verifyDigest({ ...rfc2069, algorithm: 'SHA-256' }, 'REGISTER', h1), false);
  assert.equal(verifyDigest({ ...rfc2069, qop: 'auth-int' }, 'REGISTER', h1), false);
});

test('readAuthorization refuses non-Digest and incomplete headers', () => {
  assert.equal(readAuthorization(undefined), undefined);
  assert.equal(readAuthorization({ scheme: 'Basic', username: 'x' }), undefined);
  assert.equal(readAuthorization({ scheme: 'Digest', username: '"x"', nonce: '"n"', uri: '"u"' }), undefined);
});

test('ha1 hashes non-ASCII passwords as latin1 bytes, as received on the wire', () => {
  // `sip` strings are latin1: "pässwörd" is what a device sending those bytes looks like.
  const latin1 = (s: string) => createHash('md5').update(s, 'latin1').digest('hex');
  assert.equal(ha1('34020000001320000001', '3402000000', 'p\u00e4ssw\u00f6rd'), latin1('34020000001320000001:3402000000:p\u00e4ssw\u00f6rd'));
  assert.notEqual(ha1('34020000001320000001', '3402000000', 'p\u00e4ssw\u00f6rd'), md5('34020000001320000001:3402000000:p\u00e4ssw\u00f6rd'));
  assert.equal(ha1('34020000001320000001', '3402000000', 'plain'), md5('34020000001320000001:3402000000:plain'));
});
