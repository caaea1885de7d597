import { test } from 'node:test';
import assert from 'node:assert/strict';
import sip from 'sip';
import type { SipMessage } from 'sip';
import { TestDevice } from './helpers/test-device.ts';
import { DEVICE_ID, SERVER_ID, once, onceOf, sleep, startServer } from './helpers/server.ts';
import { InvalidStateError, SipResponseError, SipTimeoutError } from '../src/errors.ts';
import type { SipServerOptions } from '../src/types.ts';

const CH = '34020000001320000101';

function answerSdp(o: { port?: number; ssrc?: string; tcp?: boolean; setup?: string } = {}): string {
  return [
    'v=0',
    `o=${CH} 0 0 IN IP4 192.168.1.64`,
    's=Play',
    'c=IN IP4 192.168.1.64',
    't=0 0',
    `m=video ${o.port ?? 15060} ${o.tcp ? 'TCP/RTP/AVP' : 'RTP/AVP'} 96`,
    'a=sendonly',
    'a=rtpmap:96 PS/90000',
    ...(o.setup ? [`a=setup:${o.setup}`, 'a=connection:new'] : []),
    `y=${o.ssrc ?? '0100000001'}`,
    '',
  ].join('\r\n');
}

function ok200(rq: SipMessage, sdp: string): SipMessage {
  const rs = sip.makeResponse(rq, 200, 'OK');
  rs.headers.to = { ...rq.headers.to!, params: { tag: 'devtag' } };
  rs.headers.contact = [{ uri: `sip:${CH}@192.168.1.64:5060`, params: {} }];
  rs.headers['content-type'] = 'application/sdp';
  rs.content = sdp;
  return rs;
}

async function registered(transport: 'udp' | 'tcp' = 'udp', over: Partial<SipServerOptions> = {}) {
  const server = await startServer(over);
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port, transport });
  assert.equal((await dev.register()).status, 200);
  return { server, dev };
}

const live = { deviceId: DEVICE_ID, channelId: CH, kind: 'Play' as const, ssrc: '0200000001', mediaIp: '10.0.0.5', mediaPort: 30000, transport: 'udp' as const };

test('invite() sends the GB offer, ACKs the 200 with the INVITE CSeq and returns a Dialog with the parsed answer', async () => {
  const { server, dev } = await registered();
  dev.onRequest = (rq) => {
    if (rq.method !== 'INVITE') return undefined;
    dev.send(sip.makeResponse(rq, 100, 'Trying'));
    return ok200(rq, answerSdp({ ssrc: '0200000009' }));
  };
  try {
    const dialog = await server.invite(live);
    const inv = dev.requests.find((r) => r.method === 'INVITE')!;
    assert.equal(inv.uri, `sip:${CH}@127.0.0.1:${dev.localPort}`);
    assert.equal(inv.headers.subject, `${CH}:0200000001,${SERVER_ID}:0`);
    const sdp = inv.content!;
    for (const line of ['v=0', `o=${SERVER_ID} 0 0 IN IP4 10.0.0.5`, 's=Play', 'c=IN IP4 10.0.0.5', 't=0 0', 'm=video 30000 RTP/AVP 96 97 98 99', 'a=recvonly', 'a=rtpmap:96 PS/90000', 'a=rtpmap:98 H264/90000', 'a=rtpmap:99 H265/90000', 'y=0200000001']) {
      assert.ok(sdp.split('\r\n').includes(line), `offer has ${line}`);
    }
    assert.ok(!sdp.includes('u='), 'no u= for live');
    const ack = await dev.nextRequest('ACK');
    assert.equal(ack.headers.cseq!.seq, inv.headers.cseq!.seq);
    assert.equal(ack.headers['call-id'], inv.headers['call-id']);
    assert.equal(ack.uri, `sip:${CH}@192.168.1.64:5060`, 'ACK to the remote target');
    assert.equal(ack.headers.to!.params.tag, 'devtag');
    assert.deepEqual(
      { ip: dialog.answer.ip, port: dialog.answer.port, ssrc: dialog.answer.ssrc, transport: dialog.answer.transport },
      { ip: '192.168.1.64', port: 15060, ssrc: '0200000009', transport: 'udp' },
    );
    assert.equal(dialog.state.remoteTag, 'devtag');
    assert.equal(dialog.state.cseq, inv.headers.cseq!.seq);

    await dialog.bye();
    const bye = await dev.nextRequest('BYE');
    assert.equal(bye.headers.cseq!.seq, inv.headers.cseq!.seq + 1);
    assert.equal(bye.headers['call-id'], inv.headers['call-id']);
    assert.equal(bye.headers.from!.params.tag, inv.headers.from!.params.tag);
    assert.equal(bye.headers.to!.params.tag, 'devtag');
    assert.equal(bye.uri, `sip:${CH}@192.168.1.64:5060`);
    await assert.rejects(dialog.bye(), InvalidStateError);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('invite() offers Playback over TCP passive and Download over TCP active with the GB lines', async () => {
  const { server, dev } = await registered('tcp');
  dev.onRequest = (rq) => (rq.method === 'INVITE' ? ok200(rq, answerSdp({ tcp: true, setup: rq.content!.includes('setup:passive') ? 'active' : 'passive', port: 9000 })) : undefined);
  try {
    const pb = await server.invite({ ...live, kind: 'Playback', ssrc: '1200000002', transport: 'tcp-passive', start: 1767225600, end: 1767229200 });
    let offer = dev.requests.find((r) => r.method === 'INVITE')!.content!.split('\r\n');
    for (const line of ['s=Playback', `u=${CH}:0`, 't=1767225600 1767229200', 'm=video 30000 TCP/RTP/AVP 96 97 98 99', 'a=setup:passive', 'a=connection:new', 'y=1200000002']) {
      assert.ok(offer.includes(line), `playback offer has ${line}`);
    }
    assert.equal(pb.answer.transport, 'tcp');
    assert.equal(pb.answer.setup, 'active');
    dev.requests.length = 0;
    const dl = await server.invite({ ...live, kind: 'Download', ssrc: '1200000003', transport: 'tcp-active', start: 1767225600, end: 1767229200, downloadSpeed: 4 });
    offer = dev.requests.find((r) => r.method === 'INVITE')!.content!.split('\r\n');
    for (const line of ['s=Download', 'a=setup:active', 'a=downloadspeed:4']) assert.ok(offer.includes(line), `download offer has ${line}`);
    assert.equal(dl.answer.setup, 'passive');
    assert.equal(dl.answer.port, 9000);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('invite() rejects with SipResponseError on a 4xx, and the device gets its ACK', async () => {
  const { server, dev } = await registered();
  dev.onRequest = (rq) => (rq.method === 'INVITE' ? { ...sip.makeResponse(rq, 486, 'Busy Here'), headers: { ...sip.makeResponse(rq, 486, 'Busy Here').headers, to: { ...rq.headers.to!, params: { tag: 'x' } } } } : undefined);
  try {
    await assert.rejects(server.invite(live), (e: unknown) => e instanceof SipResponseError && e.status === 486);
    const ack = await dev.nextRequest('ACK');
    assert.equal(ack.headers.to!.params.tag, 'x');
  } finally {
    await dev.close();
    await server.close();
  }
});

test('invite() retransmits over UDP until answered and gives up with SipTimeoutError and a CANCEL', async () => {
  const { server, dev } = await registered('udp', { timers: { T1: 40, T2: 160 } });
  let invites = 0;
  dev.onRequest = (rq) => {
    if (rq.method !== 'INVITE') return undefined;
    invites++;
    return invites < 3 ? null : ok200(rq, answerSdp());
  };
  try {
    const d = await server.invite(live);
    assert.equal(invites, 3);
    await d.bye();
    invites = -100;
    await assert.rejects(server.invite({ ...live, timeoutMs: 300 }), SipTimeoutError);
    await dev.nextRequest('CANCEL');
  } finally {
    await dev.close();
    await server.close();
  }
});

test('a device BYE is answered 200 and emitted on the dialog and the server', async () => {
  const { server, dev } = await registered();
  dev.onRequest = (rq) => (rq.method === 'INVITE' ? ok200(rq, answerSdp()) : undefined);
  try {
    const dialog = await server.invite(live);
    const st = dialog.state;
    const dialogBye = onceOf(dialog, 'bye');
    const serverBye = once(server, 'bye');
    const rs = await dev.request('BYE', {
      callId: st.callId,
      uri: `sip:${SERVER_ID}@127.0.0.1:${server.port}`,
    });
    assert.equal(rs.status, 200);
    await dialogBye;
    assert.equal((await serverBye).callId, st.callId);
    await assert.rejects(dialog.info('PAUSE RTSP/1.0\r\nCSeq: 1\r\nPauseTime: now\r\n'), InvalidStateError);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('dialog.info() sends MANSRTSP in the dialog and a restored dialog can still say BYE', async () => {
  const { server, dev } = await registered();
  dev.onRequest = (rq) => (rq.method === 'INVITE' ? ok200(rq, answerSdp()) : undefined);
  try {
    const dialog = await server.invite({ ...live, kind: 'Playback', start: 1, end: 2 });
    const body = 'PAUSE RTSP/1.0\r\nCSeq: 1\r\nPauseTime: now\r\n';
    await dialog.info(body);
    const info = await dev.nextRequest('INFO');
    assert.equal(info.headers['content-type'], 'Application/MANSRTSP');
    assert.equal(info.content, body);
    assert.equal(info.headers.cseq!.seq, dialog.state.cseq);
    const saved = JSON.parse(JSON.stringify(dialog.state));

    // A second server process (same address book) restores the dialog from the saved state.
    const restored = server.restoreDialog(saved);
    assert.equal(restored, dialog, 'same live dialog returned for a known Call-ID');
    const other = await startServer();
    try {
      const d2 = other.restoreDialog(saved);
      await d2.bye();
      const bye = await dev.nextRequest('BYE');
      assert.equal(bye.headers['call-id'], saved.callId);
      assert.equal(bye.headers.cseq!.seq, saved.cseq + 1);
      assert.equal(bye.headers.to!.params.tag, 'devtag');
    } finally {
      await other.close();
    }
  } finally {
    await dev.close();
    await server.close();
  }
});

test('a MediaStatus 121 notify is answered 200 and emitted as mediaStatus', async () => {
  const { server, dev } = await registered();
  try {
    const ev = once(server, 'mediaStatus');
    const rs = await dev.message(`<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>MediaStatus</CmdType><SN>8</SN><DeviceID>${DEVICE_ID}</DeviceID><NotifyType>121</NotifyType></Notify>`);
    assert.equal(rs.status, 200);
    const e = await ev;
    assert.equal(e.deviceId, DEVICE_ID);
    assert.equal(e.notifyType, '121');
    assert.equal(e.callId, dev.callId);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('a retransmitted 200 to an INVITE is ACKed again', async () => {
  const { server, dev } = await registered();
  let last: SipMessage | undefined;
  dev.onRequest = (rq) => {
    if (rq.method !== 'INVITE') return undefined;
    last = ok200(rq, answerSdp());
    return last;
  };
  try {
    await server.invite(live);
    await dev.nextRequest('ACK');
    dev.send(last!);
    const again = await dev.nextRequest('ACK');
    assert.equal(again.headers['call-id'], last!.headers['call-id']);
    await sleep(10);
  } finally {
    await dev.close();
    await server.close();
  }
});

test('invite() rejects TypeError for bad options and for a device that is not registered', async () => {
  const server = await startServer();
  try {
    await assert.rejects(server.invite({ ...live, ssrc: 'abc' }), TypeError);
    await assert.rejects(server.invite({ ...live, kind: 'Playback' }), TypeError);
    await assert.rejects(server.invite(live), /not registered/);
  } finally {
    await server.close();
  }
});

test('a 200 that arrives after invite() gave up is ACKed and hung up with BYE', async () => {
  const { server, dev } = await registered('udp', { timers: { T1: 100, T2: 400 } });
  let invite: SipMessage | undefined;
  dev.onRequest = (rq) => {
    if (rq.method === 'INVITE') {
      invite = rq;
      return null;
    }
    return undefined;
  };
  try {
    await assert.rejects(server.invite({ ...live, timeoutMs: 250 }), SipTimeoutError);
    await dev.nextRequest('CANCEL');
    dev.send(ok200(invite!, answerSdp()), server.port);
    const ack = await dev.nextRequest('ACK');
    const bye = await dev.nextRequest('BYE');
    assert.equal(ack.headers['call-id'], invite!.headers['call-id']);
    assert.equal(bye.headers['call-id'], invite!.headers['call-id']);
    assert.equal(bye.headers.cseq!.seq, invite!.headers.cseq!.seq + 1);
  } finally {
    await dev.close();
    await server.close();
  }
});
