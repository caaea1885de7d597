import { test } from 'node:test';
import assert from 'node:assert/strict';
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
