import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyPlay } from '@gb28181/media';
import { streamUrls } from '../src/play/urls.ts';

test('streamUrls() builds the RTMP, FLV, WS-FLV and HLS URLs of api.md from GB_MEDIA_PUBLIC_URL', () => {
  assert.deepEqual(streamUrls('0BEBC201', { mediaPublicUrl: 'https://media.example.com:8443/', rtmpPort: 1936 }), {
    rtmp: 'rtmp://media.example.com:1936/rtp/0BEBC201',
    flv: 'https://media.example.com:8443/rtp/0BEBC201.flv',
    wsflv: 'wss://media.example.com:8443/rtp/0BEBC201.flv',
    http: 'https://media.example.com:8443/rtp/0BEBC201/hls.m3u8',
  });
});

test('streamUrls() keeps a path prefix of a reverse proxy', () => {
  assert.equal(streamUrls('A', { mediaPublicUrl: 'http://10.0.0.1:8000/gb', rtmpPort: 1935 }).flv, 'http://10.0.0.1:8000/gb/rtp/A.flv');
});

test('streamUrls() signs every URL for its stream when a play secret is set, valid for the TTL', () => {
  const secret = 'a-play-secret-of-32-characters!!';
  const before = Date.now() / 1000;
  const urls = streamUrls('0BEBC201', { mediaPublicUrl: 'http://10.0.0.1:8000', rtmpPort: 1935, playSecret: secret, urlTtlS: 600 });
  for (const url of Object.values(urls)) {
    const sign = new URL(url.replace(/^rtmp/, 'http')).searchParams.get('sign');
    assert.equal(verifyPlay('/rtp/0BEBC201', sign, secret), true, url);
    assert.equal(verifyPlay('/rtp/0BEBC202', sign, secret), false, 'bound to its stream');
    const exp = Number(sign!.split('-')[0]);
    assert.ok(exp >= Math.floor(before) + 600 && exp <= Date.now() / 1000 + 600, `expires in 600 s (${exp - before})`);
  }
  assert.match(urls.http, /^http:\/\/10\.0\.0\.1:8000\/rtp\/0BEBC201\/hls\.m3u8\?sign=/);
});
