import { signPlay } from '@gb28181/media';
import type { StreamUrls } from '../services.ts';

export interface UrlSettings {
  /** GB_MEDIA_PUBLIC_URL: base of HTTP-FLV, WS-FLV and HLS, e.g. http://203.0.113.5:8000 */
  mediaPublicUrl: string;
  /** GB_MEDIA_RTMP_PORT */
  rtmpPort: number;
  /** GB_MEDIA_PLAY_SECRET: when set, every URL carries a `sign` valid for urlTtlS (default 1 day) */
  playSecret?: string;
  urlTtlS?: number;
}

/** Play URLs of a stream (app `rtp`, name = stream id), as ../shared/spec/api.md lists them. */
export function streamUrls(streamId: string, s: UrlSettings): StreamUrls {
  const base = new URL(s.mediaPublicUrl);
  const http = `${base.protocol}//${base.host}${base.pathname.replace(/\/$/, '')}`;
  const ws = http.replace(/^http/, 'ws');
  const q = s.playSecret ? `?sign=${signPlay(`/rtp/${streamId}`, s.playSecret, Date.now() / 1000 + (s.urlTtlS ?? 86_400))}` : '';
  return {
    rtmp: `rtmp://${base.hostname}:${s.rtmpPort}/rtp/${streamId}${q}`,
    flv: `${http}/rtp/${streamId}.flv${q}`,
    wsflv: `${ws}/rtp/${streamId}.flv${q}`,
    http: `${http}/rtp/${streamId}/hls.m3u8${q}`,
  };
}
