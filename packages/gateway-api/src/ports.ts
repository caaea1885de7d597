import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

// Start-up port check: every configured listener must be free before anything starts, so the
// operator reads "GB_MEDIA_RTMP_PORT 1935 is in use" instead of a crash from a library that
// exits the process on EADDRINUSE (node-media-server does).

export interface PortClaim {
  /** config key, used in the message */
  key: string;
  host: string;
  port: number;
  protocols: ('tcp' | 'udp')[];
}

export class PortInUseError extends Error {
  override name = 'PortInUseError';
  constructor(
    readonly key: string,
    readonly port: number,
    readonly protocol: 'tcp' | 'udp',
    detail: string,
  ) {
    super(`${key} ${port} is in use (${protocol}${detail === 'EADDRINUSE' ? '' : ': ' + detail})`);
  }
}

export function tcpPortFree(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(null)));
  });
}

export function udpPortFree(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    s.once('error', (err: NodeJS.ErrnoException) => {
      s.close();
      resolve(err.code ?? err.message);
    });
    s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(null)));
  });
}

/** Rejects with PortInUseError for the first claim whose port is taken; port 0 (ephemeral) is skipped. */
export async function assertPortsFree(claims: PortClaim[]): Promise<void> {
  for (const c of claims) {
    if (c.port === 0) continue;
    for (const p of c.protocols) {
      const busy = p === 'tcp' ? await tcpPortFree(c.host, c.port) : await udpPortFree(c.host, c.port);
      if (busy) throw new PortInUseError(c.key, c.port, p, busy);
    }
  }
}

/** How many ports of an inclusive range are taken (the media engine skips them; many taken is worth a warning). */
export async function busyPortsInRange(host: string, [lo, hi]: [number, number]): Promise<number> {
  let busy = 0;
  for (let port = lo; port <= hi; port++) {
    if ((await udpPortFree(host, port)) || (await tcpPortFree(host, port))) busy++;
  }
  return busy;
}
