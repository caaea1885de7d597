// GET /console: the operator's web console (static page + one ES module in ../../web, the FLV
// player from the installed mpegts.js). Not part of the REST API, so it stays out of the OpenAPI
// registry; it needs no token to load because the page itself asks for one.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Router } from '@koa/router';

const webDir = fileURLToPath(new URL('../../web/', import.meta.url));
const mpegtsDist = join(dirname(createRequire(import.meta.url).resolve('mpegts.js/package.json')), 'dist');

// Whitelisted names only: the path parameter never reaches the file system otherwise.
const assets: Record<string, { file: string; type: string }> = {
  'console.js': { file: join(webDir, 'console.js'), type: 'text/javascript; charset=utf-8' },
  'console.css': { file: join(webDir, 'console.css'), type: 'text/css; charset=utf-8' },
  'mpegts.js': { file: join(mpegtsDist, 'mpegts.js'), type: 'text/javascript; charset=utf-8' },
};

// The FLV/HLS URLs live on the media HTTP port, another origin: media and fetch may go anywhere
// over http(s)/ws(s), but scripts, styles and frames only come from here.
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  'media-src blob: http: https:',
  "connect-src 'self' http: https: ws: wss:",
  "frame-ancestors 'none'",
].join('; ');

/** Paths the console answers without a bearer token (the auth middleware lets them through). */
export const consolePaths = /^\/console(\/[\w.-]{0,64})?$/;

export function registerConsoleRoutes(router: Router): void {
  router.get('/console', async (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Content-Security-Policy', contentSecurityPolicy);
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = await readFile(join(webDir, 'console.html'));
  });

  router.get('/console/:file', async (ctx) => {
    const asset = Object.hasOwn(assets, ctx.params.file ?? '') ? assets[ctx.params.file!] : undefined;
    if (!asset) {
      ctx.status = 404;
      ctx.body = { code: '1002', msgid: ctx.state.msgid as string, data: 'no such console file' };
      return;
    }
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = await readFile(asset.file);
  });
}
