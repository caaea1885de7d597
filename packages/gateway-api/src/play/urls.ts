import type { StreamUrls } from '../services.ts';

export interface UrlSettings {
  /** GB_MEDIA_PUBLIC_URL: base of HTTP-FLV, WS-FLV and HLS, e.g. http://203.0.113.5:8000 */
  mediaPublicUrl: string;
  /** GB_MEDIA_RTMP_PORT */
  rtmpPort: number;
}

/** Play URLs of a stream (app `rtp`, name = stream id), as ../shared/spec/api.md lists them. */
export function streamUrls(streamId: string, s: UrlSettings): StreamUrls {
  const base = new URL(s.mediaPublicUrl);
  const http = `${base.protocol}//${base.host}${base.pathname.replace(/\/$/, '')}`;
  const ws = http.replace(/^http/, 'ws');
  return {
    rtmp: `rtmp://${base.hostname}:${s.rtmpPort}/rtp/${streamId}`,
    flv: `${http}/rtp/${streamId}.flv`,
    wsflv: `${ws}/rtp/${streamId}.flv`,
    http: `${http}/rtp/${streamId}/hls.m3u8`,
  };
}
