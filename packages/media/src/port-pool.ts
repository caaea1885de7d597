import dgram from 'node:dgram';
import net from 'node:net';
import { PortPoolExhaustedError } from './errors.ts';

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind({ port, address: host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** Whether `port` is free for both UDP and TCP on `host` right now. */
export async function portFree(port: number, host: string): Promise<boolean> {
  return (await udpFree(port, host)) && (await tcpFree(port, host));
}

function isAddressInUse(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'EADDRINUSE';
}

/**
 * Hands out RTP receive ports from an inclusive range, one per stream, with UDP and TCP both free
 * (a device may be switched between transports). Ports in use by another process are skipped.
 */
export class PortPool {
  readonly #held = new Set<number>();
  #next: number;

  constructor(
    readonly range: readonly [number, number],
    readonly host: string,
  ) {
    if (!Number.isInteger(range[0]) || !Number.isInteger(range[1]) || range[0] < 1 || range[1] > 65535 || range[0] > range[1]) {
      throw new TypeError(`GB_RTP_PORTS ${range[0]}-${range[1]} is not a valid port range`);
    }
    this.#next = range[0];
  }

  get size(): number {
    return this.range[1] - this.range[0] + 1;
  }

  get held(): number {
    return this.#held.size;
  }

  /**
   * Finds a free port and opens it with `open` (which binds the real sockets). A port whose
   * bind fails with EADDRINUSE (lost a race with another process) is skipped.
   */
  async acquire<T>(open: (port: number) => Promise<T>): Promise<{ port: number; value: T }> {
    for (let tried = 0; tried < this.size; tried++) {
      const port = this.#next;
      this.#next = port >= this.range[1] ? this.range[0] : port + 1;
      if (this.#held.has(port)) continue;
      this.#held.add(port);
      try {
        if (!(await portFree(port, this.host))) {
          this.#held.delete(port);
          continue;
        }
        return { port, value: await open(port) };
      } catch (err) {
        this.#held.delete(port);
        if (!isAddressInUse(err)) throw err;
      }
    }
    throw new PortPoolExhaustedError(this.range);
  }

  /** Holds an explicitly requested port (it need not lie in the range). */
  async acquireExact<T>(port: number, open: (port: number) => Promise<T>): Promise<T> {
    if (this.#held.has(port)) throw Object.assign(new Error(`RTP port ${port} is in use`), { code: 'EADDRINUSE' });
    this.#held.add(port);
    try {
      return await open(port);
    } catch (err) {
      this.#held.delete(port);
      throw err;
    }
  }

  release(port: number): void {
    this.#held.delete(port);
  }
}
