import pino, { type Logger } from 'pino';
import type { Config } from './config.ts';

/** The process logger: JSON lines on stdout, level from GB_LOG_LEVEL, secrets redacted. */
export function createLogger(level: Config['logLevel'] = 'info'): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: { paths: ['password', '*.password', 'pwd', '*.pwd', 'token', '*.token', 'authorization', '*.authorization'], censor: '***' },
  });
}
