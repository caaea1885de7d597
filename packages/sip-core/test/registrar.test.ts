import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDevice } from './helpers/test-device.ts';
import { DEVICE_ID, MemoryCredentials, PASSWORD, SERVER_ID, once, sleep, startServer } from './helpers/server.ts';

test('REGISTER over UDP is challenged, then accepted with Date, Expires, Contact and a To-tag', async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  try {
    const first = await dev.request('REGISTER', { headers: { expires: '3600' } });
    assert.equal(first.status, 401);
    const ch = first.headers['www-authenticate']![0]!;
    assert.equal(ch.realm, '"3402000000"');
    assert.equal(ch.algorithm, 'MD5');
    assert.match(ch.nonce!, /^"[0-9a-z]+\.[\w-]+"$/);
    const registered = once(server, 'registered');
    const online = once(server, 'online');
    const ok = await dev.request('REGISTER', { headers: { expires: '3600', authorization: [dev.authorization(ch)] } });
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers.date), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$/);
    assert.equal(ok.headers.expires, '3600');
    assert.ok(ok.headers.to?.params.tag, 'To-tag');
    assert.ok(Array.isArray(ok.headers.contact) && ok.headers.contact[0]!.uri.includes(DEVICE_ID));
    const d = await registered;
    assert.equal(d.refresh, false);
    assert.equal((await online).deviceId, DEVICE_ID);
    const view = server.device(DEVICE_ID)!;
    assert.equal(view.host, '127.0.0.1');
    assert.equal(view.port, dev.localPort, 'addressed by source port, not the Via/Contact');
    assert.equal(view.transport, 'udp');
    assert.ok(view.expiresAt - Date.now() > 3590_000);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('REGISTER over TCP without qop (RFC 2069) and with a digest uri other than the Request-URI succeeds', async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port, transport: 'tcp' });
  try {
    const ok = await dev.register({ qop: false, uri: `sip:127.0.0.1:${server.port}` });
    assert.equal(ok.status, 200);
    assert.equal(server.device(DEVICE_ID)?.transport, 'tcp');
  } finally {
    await dev.close();
    await server.close();
  }
});

test("policy 'known' answers an unknown device 403 at once, without a challenge", async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: '34020000001320009999', serverPort: server.port });
  const failed = once(server, 'authFailed');
  try {
    const rs = await dev.request('REGISTER');
    assert.equal(rs.status, 403);
    assert.equal((await failed).reason, 'unknown device');
    assert.equal(server.device('34020000001320009999'), undefined);
  } finally {
    await dev.close();
    await server.close();
  }
});

test("policy 'open' creates an unknown device on its first valid register with the global password", async () => {
  const creds = new MemoryCredentials({});
  creds.create = async (id: string) => {
    creds.created.push(id);
  };
  const server = await startServer({ registerPolicy: 'open', globalPassword: 'global-pw', credentials: creds });
  const dev = await TestDevice.open({ deviceId: '34020000001320000077', serverPort: server.port, password: 'global-pw' });
  try {
    const ok = await dev.register();
    assert.equal(ok.status, 200);
    assert.deepEqual(creds.created, ['34020000001320000077']);
    assert.ok(server.device('34020000001320000077'));
  } finally {
    await dev.close();
    await server.close();
  }
});

test('a wrong password is challenged again, then repeated failures get 403 and a ban', async () => {
  const server = await startServer({ maxAuthFailures: 3, authBanS: 60 });
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  try {
    for (let i = 0; i < 2; i++) assert.equal((await dev.register({ password: 'wrong' })).status, 401);
    assert.equal((await dev.register({ password: 'wrong' })).status, 403);
    // Banned: even the right password is refused for now.
    assert.equal((await dev.register({ password: PASSWORD })).status, 403);
    assert.equal(server.device(DEVICE_ID), undefined);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('a nonce the server did not issue is answered with a fresh challenge', async () => {
  const server = await startServer();
  const other = await startServer({ nonceSecret: 'another-secret' });
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  const devOther = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: other.port });
  try {
    const foreign = (await devOther.request('REGISTER')).headers['www-authenticate']![0]!;
    const rs = await dev.request('REGISTER', { headers: { authorization: [dev.authorization(foreign)] } });
    assert.equal(rs.status, 401);
    assert.notEqual(rs.headers['www-authenticate']![0]!.nonce, foreign.nonce);
  } finally {
    await dev.close();
    await devOther.close();
    await server.close();
    await other.close();
  }
});

test('a nonce issued by another node with the same secret is accepted (stateless nonces)', async () => {
  const a = await startServer();
  const b = await startServer();
  const devA = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: a.port });
  const devB = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: b.port });
  try {
    const ch = (await devA.request('REGISTER')).headers['www-authenticate']![0]!;
    const rs = await devB.request('REGISTER', { headers: { expires: '3600', authorization: [devB.authorization(ch)] } });
    assert.equal(rs.status, 200);
  } finally {
    await devA.close();
    await devB.close();
    await a.close();
    await b.close();
  }
});

test('Expires: 0 unregisters the device and emits unregistered and offline', async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  try {
    assert.equal((await dev.register()).status, 200);
    const unregistered = once(server, 'unregistered');
    const offline = once(server, 'offline');
    const rs = await dev.register({ expires: 0 });
    assert.equal(rs.status, 200);
    assert.equal(rs.headers.expires, '0');
    assert.equal((await unregistered).reason, 'expires0');
    assert.equal((await offline).reason, 'unregistered');
    assert.equal(server.device(DEVICE_ID), undefined);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('a refresh register is flagged refresh and the credential lookup is cached', async () => {
  const creds = new MemoryCredentials();
  const server = await startServer({ credentials: creds });
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  try {
    assert.equal((await dev.register()).status, 200);
    const again = once(server, 'registered');
    assert.equal((await dev.register()).status, 200);
    assert.equal((await again).refresh, true);
    assert.equal(creds.lookups, 1);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('a retransmitted REGISTER is answered from the server transaction, not processed twice', async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  let registrations = 0;
  server.on('registered', () => registrations++);
  try {
    const ch = (await dev.request('REGISTER')).headers['www-authenticate']![0]!;
    const auth = dev.authorization(ch);
    const raw =
      `REGISTER sip:${SERVER_ID}@3402000000 SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bKretrans1\r\n` +
      `From: <sip:${DEVICE_ID}@3402000000>;tag=abc\r\nTo: <sip:${DEVICE_ID}@3402000000>\r\n` +
      `Call-ID: retrans@test\r\nCSeq: 7 REGISTER\r\nContact: <sip:${DEVICE_ID}@192.168.1.64:5060>\r\n` +
      `Authorization: Digest username="${DEVICE_ID}",realm="3402000000",nonce=${auth.nonce},uri=${auth.uri},response=${auth.response},algorithm=MD5,qop=auth,nc=00000001,cnonce=${auth.cnonce}\r\n` +
      `Expires: 3600\r\nContent-Length: 0\r\n\r\n`;
    const first = dev.waitFor((m) => m.status === 200);
    dev.sendRaw(raw);
    const r1 = await first;
    const second = dev.waitFor((m) => m.status === 200);
    dev.sendRaw(raw);
    const r2 = await second;
    assert.equal(r2.headers.to?.params.tag, r1.headers.to?.params.tag, 'same response, same To-tag');
    await sleep(100);
    assert.equal(registrations, 1);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('a device that reuses one Via branch for every request still has each new request processed', async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  try {
    await dev.register();
    const ka = (sn: number, cseq: number) =>
      `MESSAGE sip:${SERVER_ID}@3402000000 SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.64:5060;branch=z9hG4bKconstant\r\n` +
      `From: <sip:${DEVICE_ID}@3402000000>;tag=k\r\nTo: <sip:${SERVER_ID}@3402000000>\r\nCall-ID: same@dev\r\nCSeq: ${cseq} MESSAGE\r\n` +
      `Content-Type: Application/MANSCDP+xml\r\nContent-Length: 0\r\n\r\n` +
      `<Notify><CmdType>Keepalive</CmdType><SN>${sn}</SN><DeviceID>${DEVICE_ID}</DeviceID><Status>OK</Status></Notify>`;
    let keepalives = 0;
    server.on('keepalive', () => keepalives++);
    for (let i = 1; i <= 3; i++) {
      const answered = dev.waitFor((m) => m.status === 200 && m.headers.cseq?.seq === 100 + i);
      dev.sendRaw(ka(i, 100 + i));
      await answered;
    }
    assert.equal(keepalives, 3);
  } finally {
    await dev.close();
    await server.close();
  }
});
