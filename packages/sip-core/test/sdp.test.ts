import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildOffer, parseAnswer, SdpError } from '../src/sdp.ts';

test('buildOffer writes the live UDP offer of GB28181', () => {
  const sdp = buildOffer({ serverId: '34020000002000000001', kind: 'Play', channelId: 'c', ssrc: '0100000001', mediaIp: '1.2.3.4', mediaPort: 30000, transport: 'udp' });
  assert.equal(
    sdp,
    'v=0\r\no=34020000002000000001 0 0 IN IP4 1.2.3.4\r\ns=Play\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 30000 RTP/AVP 96 97 98 99\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\na=rtpmap:97 MPEG4/90000\r\na=rtpmap:98 H264/90000\r\na=rtpmap:99 H265/90000\r\ny=0100000001\r\n',
  );
});

test('parseAnswer reads media-level c=, m= port and proto, y= and a=setup, LF-only too', () => {
  const a = parseAnswer('v=0\no=x 0 0 IN IP4 9.9.9.9\ns=Play\nc=IN IP4 9.9.9.9\nt=0 0\nm=video 6000 TCP/RTP/AVP 96\nc=IN IP4 10.1.1.1\na=sendonly\na=rtpmap:96 PS/90000\na=setup:passive\ny=0100000077\nm=audio 6002 RTP/AVP 8\na=setup:active\n');
  assert.deepEqual(a, { ip: '10.1.1.1', port: 6000, transport: 'tcp', setup: 'passive', ssrc: '0100000077', sessionName: 'Play', payloads: { '96': 'PS/90000' } });
});

test('parseAnswer throws SdpError without an address or a video port', () => {
  assert.throws(() => parseAnswer('v=0\r\nm=video 1 RTP/AVP 96\r\n'), SdpError);
  assert.throws(() => parseAnswer('v=0\r\nc=IN IP4 1.1.1.1\r\nm=audio 1 RTP/AVP 8\r\n'), SdpError);
  assert.throws(() => parseAnswer(''), SdpError);
});
