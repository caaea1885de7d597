// EventEmitter with an event map, whose safeEmit keeps listener exceptions out of the network path.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

export type EventMap = Record<string, unknown[]>;

export class TypedEmitter<E extends EventMap> extends EventEmitter {
  protected emitterLogger?: Logger;

  override on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }

  override off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    try {
      super.emit(event, ...args);
    } catch (err) {
      this.emitterLogger?.error({ err, event }, 'event listener threw');
    }
  }
}
