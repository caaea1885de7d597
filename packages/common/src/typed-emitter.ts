// EventEmitter with an event map, whose safeEmit keeps listener exceptions out of the network path.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

export type EventMap = Record<string, unknown[]>;

/**
 * EventEmitter with a typed event map. `safeEmit` keeps a throwing listener from
 * unwinding into socket callbacks (which would crash the process on bad media).
 */
export class TypedEmitter<E extends EventMap> {
  readonly #emitter = new EventEmitter();
  protected emitterLogger?: Logger;

  constructor() {
    // 'error' without a listener would throw from EventEmitter; receivers emit it for information only.
    this.#emitter.on('error', () => {});
  }

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  removeAllListeners<K extends keyof E & string>(event?: K): this {
    if (event === undefined) {
      this.#emitter.removeAllListeners();
      this.#emitter.on('error', () => {});
    } else {
      this.#emitter.removeAllListeners(event);
      if (event === 'error') this.#emitter.on('error', () => {});
    }
    return this;
  }

  listenerCount<K extends keyof E & string>(event: K): number {
    return this.#emitter.listenerCount(event);
  }

  emit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    return this.#emitter.emit(event, ...args);
  }

  /** Emits and logs (instead of rethrowing) any exception thrown by a listener. */
  safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    try {
      return this.#emitter.emit(event, ...args);
    } catch (err) {
      this.emitterLogger?.error({ err, event }, 'event listener threw');
      return true;
    }
  }
}
