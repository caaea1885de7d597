import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type http from 'node:http';
import type { HttpHook } from './nms-host.ts';
import { HLS_PLAYLIST } from './hls-segmenter.ts';

export interface HlsEndpoint {
  /** The live media playlist, null before the first segment. */
  playlist(): string | null;
  /** Directory holding the segments. */
  dir: string;
  /** A segment cut but not on disk yet. */
  pendingSegment(name: string): Buffer[] | undefined;
  /** A client fetched the playlist or a segment. */
  touch(clientKey: string): void;
}

const STREAM_NAME = /^[A-Za-z0-9_-]+$/;
const SEGMENT = /^seg-\d+\.ts$/;

/**
 * Serves `/<app>/<id>/hls.m3u8` and its segments on node-media-server's HTTP port.
 * Paths are matched strictly (no traversal possible); other URLs fall through to node-media-server.
 */
export function createHlsHttpHook(app: string, lookup: (streamId: string) => HlsEndpoint | undefined): HttpHook {
  return (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = (req.url ?? '').split('?')[0]!;
    const parts = path.split('/');
    if (parts.length !== 4 || parts[0] !== '' || parts[1] !== app) return false;
    const [, , id = '', file = ''] = parts;
    if (!STREAM_NAME.test(id) || (file !== HLS_PLAYLIST && !SEGMENT.test(file))) return false;
    const endpoint = lookup(id);
    if (!endpoint) return false;
    const client = `${req.socket.remoteAddress}|${req.headers['user-agent'] ?? ''}`;
    endpoint.touch(client);
    const headers = { 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'no-cache' };
    if (file === HLS_PLAYLIST) {
      const text = endpoint.playlist();
      if (text === null) {
        res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('no segment yet\n');
        return true;
      }
      res.writeHead(200, { ...headers, 'Content-Type': 'application/vnd.apple.mpegurl' });
      res.end(req.method === 'HEAD' ? undefined : text);
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
