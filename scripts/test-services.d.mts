// Types for test-services.mjs (plain JS so the test runner needs no loader).
export interface MariadbServer {
  readonly port: number;
  readonly dir: string;
  readonly pid: number | undefined;
  /** mysql://root@127.0.0.1:<port>/ */
  readonly rootUrl: string;
  /** mysql://root@127.0.0.1:<port>/<database> */
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  destroy(): Promise<void>;
}
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** after stop(): the same port again, empty */
  start(): Promise<void>;
  stop(): Promise<void>;
}
export function which(names: string[]): string | undefined;
export function mariadbdPath(): string | undefined;
export function redisServerPath(): string | undefined;
/** free for both TCP and UDP on 127.0.0.1 */
/** below the kernel's ephemeral port range (where test ports are handed out from) */
export const EPHEMERAL_LOW: number;
export function freePort(): Promise<number>;
export function startMariadb(o?: { database?: string; timeoutMs?: number }): Promise<MariadbServer>;
export function startRedis(o?: { timeoutMs?: number }): Promise<RedisServer>;
