import { createHash, timingSafeEqual } from 'node:crypto';

// Signed play URLs in node-media-server's own scheme, so one `sign` query parameter opens
// HTTP-FLV, WS-FLV and RTMP (checked by node-media-server) and HLS (checked by hls-server.ts):
// sign = `<expiry, unix s>-<md5 hex of "<streamPath>-<expiry>-<secret>">`, streamPath `/rtp/<id>`.

export function signPlay(streamPath: string, secret: string, expiresAtS: number): string {
  const exp = Math.floor(expiresAtS);
  return `${exp}-${createHash('md5').update(`${streamPath}-${exp}-${secret}`).digest('hex')}`;
}

/** `nowS` 0 checks the signature alone, not its expiry. */
export function verifyPlay(streamPath: string, sign: string | null | undefined, secret: string, nowS = Date.now() / 1000): boolean {
  const m = /^(\d{1,12})-([0-9a-f]{32})$/.exec(sign ?? '');
  if (!m || Number(m[1]) < nowS) return false;
  const want = Buffer.from(signPlay(streamPath, secret, Number(m[1])));
  const got = Buffer.from(sign!);
  return want.length === got.length && timingSafeEqual(want, got);
}
