import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type http from 'node:http';
import type { HttpHook } from './nms-host.ts';
import { HLS_PLAYLIST } from './hls-segmenter.ts';
import { verifyPlay } from './play-signature.ts';

export interface HlsEndpoint {
  /** The live media playlist, null before the first segment. */
  playlist(): string | null;
  /** Directory holding the segments. */
  dir: string;
  /** A segment cut but not on disk yet. */
  pendingSegment(name: string): Buffer[] | undefined;
  /** A client fetched the playlist or a segment. */
  touch(clientKey: string): void;
  /** The client is already watching (fetched within the viewer window). */
  watching(clientKey: string): boolean;
}

const STREAM_NAME = /^[A-Za-z0-9_-]+$/;
const SEGMENT = /^seg-\d+\.ts$/;

/**
 * Serves `/<app>/<id>/hls.m3u8` and its segments on node-media-server's HTTP port.
 * Paths are matched strictly (no traversal possible); other URLs fall through to node-media-server.
 * With a play secret every request needs a valid `sign`; the playlist then carries the same `sign`
 * on its segment URIs, which players resolve relative to the playlist without its query.
 */
export function createHlsHttpHook(app: string, lookup: (streamId: string) => HlsEndpoint | undefined, playSecret = ''): HttpHook {
  return (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const [path = '', query = ''] = (req.url ?? '').split('?');
    const parts = path.split('/');
    if (parts.length !== 4 || parts[0] !== '' || parts[1] !== app) return false;
    const [, , id = '', file = ''] = parts;
    if (!STREAM_NAME.test(id) || (file !== HLS_PLAYLIST && !SEGMENT.test(file))) return false;
    const endpoint = lookup(id);
    if (!endpoint) return false;
    const client = `${req.socket.remoteAddress}|${req.headers['user-agent'] ?? ''}`;
    const sign = new URLSearchParams(query).get('sign');
    // FLV and RTMP check the sign once per connection; an HLS player asks again every few seconds,
    // so one already watching keeps going past the expiry (the signature must still be genuine)
    const signed = !playSecret || verifyPlay(`/${app}/${id}`, sign, playSecret) || (endpoint.watching(client) && verifyPlay(`/${app}/${id}`, sign, playSecret, 0));
    if (!signed) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('play signature missing, wrong or expired\n');
      return true;
    }
    endpoint.touch(client);
    const headers = { 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'no-cache' };
    if (file === HLS_PLAYLIST) {
      const text = endpoint.playlist();
      if (text === null) {
        res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('no segment yet\n');
        return true;
      }
      const body = playSecret ? text.replace(/^(seg-\d+\.ts)$/gm, `$1?sign=${encodeURIComponent(sign!)}`) : text;
      res.writeHead(200, { ...headers, 'Content-Type': 'application/vnd.apple.mpegurl' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    }
    const pending = endpoint.pendingSegment(file);
    if (pending) {
      const length = pending.reduce((n, b) => n + b.length, 0);
      res.writeHead(200, { ...headers, 'Content-Type': 'video/mp2t', 'Content-Length': length });
      if (req.method !== 'HEAD') {
        res.cork();
        for (const b of pending) res.write(b);
        res.uncork();
      }
      res.end();
      return true;
    }
    const stream = createReadStream(join(endpoint.dir, file));
    stream.once('error', () => {
      if (!res.headersSent) res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('segment gone\n');
      else res.destroy();
    });
    stream.once('open', () => {
      res.writeHead(200, { ...headers, 'Content-Type': 'video/mp2t' });
      if (req.method === 'HEAD') {
        stream.destroy();
        res.end();
      } else stream.pipe(res);
    });
    return true;
  };
}
