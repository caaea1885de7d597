import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSdpAnswer, parseSdpOffer } from '../src/sdp.ts';

const offer = (m: string, extra = '') =>
  `v=0\r\no=34020000002000000001 0 0 IN IP4 10.0.0.5\r\ns=Playback\r\nu=34020000001310000001:0\r\nc=IN IP4 10.0.0.5\r\n` +
  `t=1700000000 1700003600\r\n${m}\r\n${extra}a=recvonly\r\na=rtpmap:96 PS/90000\r\ny=1340200001\r\n`;

test('parseSdpOffer() reads address, port, transport role, SSRC and playback times', () => {
  const udp = parseSdpOffer(offer('m=video 30000 RTP/AVP 96 97 98'));
  assert.deepEqual(
    { ip: udp?.ip, port: udp?.port, transport: udp?.transport, ssrc: udp?.ssrc, start: udp?.start, end: udp?.end, s: udp?.sessionName },
    { ip: '10.0.0.5', port: 30000, transport: 'udp', ssrc: '1340200001', start: 1700000000, end: 1700003600, s: 'Playback' },
  );
  assert.equal(parseSdpOffer(offer('m=video 30002 TCP/RTP/AVP 96', 'a=setup:passive\r\n'))?.transport, 'tcp-passive');
  assert.equal(parseSdpOffer(offer('m=video 30002 TCP/RTP/AVP 96', 'a=setup:active\r\n'))?.transport, 'tcp-active');
  assert.equal(parseSdpOffer('v=0\r\ns=Play\r\n'), undefined);
});

test('buildSdpAnswer() answers sendonly with the opposite TCP setup role and the SSRC', () => {
  const o = parseSdpOffer(offer('m=video 30002 TCP/RTP/AVP 96', 'a=setup:active\r\n'))!;
  const a = buildSdpAnswer({ channelId: '34020000001310000001', ip: '10.0.0.9', port: 40000, offer: o, ssrc: '1340200001' });
  assert.match(a, /^m=video 40000 TCP\/RTP\/AVP 96\r$/m);
  assert.match(a, /^a=sendonly\r$/m);
  assert.match(a, /^a=setup:passive\r$/m);
  assert.match(a, /^y=1340200001\r$/m);
  assert.match(a, /^c=IN IP4 10\.0\.0\.9\r$/m);
});
