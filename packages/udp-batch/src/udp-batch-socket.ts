import { DatagramSource } from './datagram-source.ts';
import { FLAG_TRUNCATED, META_FIELDS, native, nativeLoadError, type NativeUdpBatch } from './native-binding.ts';

export interface UdpBatchSocketOptions {
  /** IPv4 or IPv6 address to bind (no host names) */
  host: string;
  /** 0 = ephemeral */
  port: number;
  /** SO_RCVBUF asked for (the kernel caps it at net.core.rmem_max); 0 = kernel default (default) */
  recvBufferBytes?: number;
  /** SO_SNDBUF asked for; 0 = kernel default (default) */
  sendBufferBytes?: number;
  /**
   * Longest datagram delivered, 1..65536 (default 2048: RTP over UDP stays under the MTU). A longer
   * one is dropped whole and reported through onOversize, never delivered cut.
   */
  maxDatagramBytes?: number;
  /** Each datagram: `data` is a view of the turn's buffer (kept alive by it, unless transientData); `from` is valid during the call only. */
  onDatagram?: (data: Buffer, from: DatagramSource) => void;
  /**
   * `data` is valid only during onDatagram (a view of the addon's staging buffer, written again
   * afterwards): copy what you keep. Saves copying the turn's datagrams into a new buffer, one
   * external allocation per event-loop turn that V8 answers with full collections under load.
   */
  transientData?: boolean;
  onOversize?: (from: DatagramSource) => void;
  /** A handler threw; the exception stops at the socket (default: printed to stderr). */
  onError?: (err: unknown) => void;
}

export interface UdpBatchSocketStats {
  datagrams: number;
  bytes: number;
  /** longer than maxDatagramBytes, dropped */
  oversize: number;
}

const DEFAULT_MAX_DATAGRAM = 2048;

/** Whether the native addon loaded in this process (Linux with a successful build). */
export function udpBatchAvailable(): boolean {
  return native !== null;
}

/** Why the addon is not available (undefined when it is). */
export function udpBatchUnavailableReason(): string | undefined {
  return nativeLoadError?.message;
}

/** Per thread: the open sockets by id and the one callback the addon calls per event-loop turn. */
class Dispatcher {
  readonly sockets = new Map<number, UdpBatchSocket>();
  readonly #meta: Uint32Array;
  readonly #source: DatagramSource;

  readonly #staging: Buffer;

  constructor(readonly binding: NativeUdpBatch) {
    const [meta, staging] = binding.init((count, usedBytes) => this.#onBatch(count, usedBytes));
    this.#meta = new Uint32Array(meta);
    this.#source = new DatagramSource(meta);
    this.#staging = Buffer.from(staging);
  }

  #onBatch(count: number, usedBytes: number): void {
    const meta = this.#meta;
    const from = this.#source;
    // for sockets that keep datagrams past the call: one copy of the turn, made when first needed
    let kept: Buffer | null = null;
    for (let i = 0; i < count; i++) {
      const m = i * META_FIELDS;
      // undefined for a socket closed in this turn (the addon also marks its entries dead)
      const sock = this.sockets.get(meta[m]!);
      if (sock === undefined) continue;
      from.select(i);
      if (((meta[m + 3]! >>> 16) & FLAG_TRUNCATED) !== 0) {
        sock.deliverOversize(from);
        continue;
      }
      const data = sock.transientData ? this.#staging : (kept ??= Buffer.from(this.#staging.subarray(0, usedBytes)));
      sock.deliver(data.subarray(meta[m + 1]!, meta[m + 1]! + meta[m + 2]!), from);
    }
  }
}

let dispatcher: Dispatcher | null = null;

function binding(): Dispatcher {
  if (!native) throw new Error(`udp-batch addon not available: ${nativeLoadError?.message ?? 'not built'}`);
  dispatcher ??= new Dispatcher(native);
  return dispatcher;
}

/**
 * A UDP socket read with recvmmsg: datagrams of every socket of the thread reach JS in one call
 * per event-loop turn, then each socket's onDatagram in arrival order. Send with sendBatch (sendmmsg).
 */
export class UdpBatchSocket {
  readonly port: number;
  readonly host: string;
  readonly stats: UdpBatchSocketStats = { datagrams: 0, bytes: 0, oversize: 0 };
  /** @internal UdpBatchSocketOptions.transientData */
  readonly transientData: boolean;
  readonly #d: Dispatcher;
  readonly #id: number;
  readonly #onDatagram?: (data: Buffer, from: DatagramSource) => void;
  readonly #onOversize?: (from: DatagramSource) => void;
  readonly #onError: (err: unknown) => void;
  #closed = false;
  #closing?: Promise<void>;

  private constructor(d: Dispatcher, id: number, port: number, o: UdpBatchSocketOptions) {
    this.#d = d;
    this.#id = id;
    this.port = port;
    this.host = o.host;
    this.#onDatagram = o.onDatagram;
    this.transientData = o.transientData ?? false;
    this.#onOversize = o.onOversize;
    this.#onError = o.onError ?? ((err) => console.error('udp-batch: datagram handler threw', err));
  }

  /** Binds now; throws a TypeError for bad options, an Error with `code` (EADDRINUSE, EADDRNOTAVAIL, ...) from the OS. */
  static open(o: UdpBatchSocketOptions): UdpBatchSocket {
    const d = binding();
    const max = o.maxDatagramBytes ?? DEFAULT_MAX_DATAGRAM;
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new TypeError(`bad port ${o.port}`);
    if (!Number.isInteger(max) || max < 1 || max > 65536) throw new TypeError(`maxDatagramBytes must be 1..65536, not ${max}`);
    const [id, port] = d.binding.open(o.host, o.port, o.recvBufferBytes ?? 0, o.sendBufferBytes ?? 0, max);
    const sock = new UdpBatchSocket(d, id, port, o);
    d.sockets.set(id, sock);
    return sock;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends every datagram to host:port with sendmmsg. Returns how many went out: fewer when the send
   * buffer is full (send the rest later). The bytes are copied by the kernel before this returns.
   */
  sendBatch(datagrams: readonly Uint8Array[], port: number, host: string): number {
    if (this.#closed) throw new Error('udp-batch socket is closed');
    return this.#d.binding.sendBatch(this.#id, datagrams, port, host);
  }

  /**
   * Sends `data` as datagrams of `segmentBytes` each (the last may be shorter) with one syscall:
   * UDP GSO, the kernel cuts them (Linux >= 4.18). At most 64 datagrams and 65,507 bytes per call.
   * Returns false when the send buffer is full (nothing sent); throws where the kernel lacks GSO.
   */
  sendSegmented(data: Uint8Array, segmentBytes: number, port: number, host: string): boolean {
    if (this.#closed) throw new Error('udp-batch socket is closed');
    return this.#d.binding.sendSegmented(this.#id, data, segmentBytes, port, host);
  }

  /** Whether the socket keeps the event loop alive (it does by default, like node:dgram). */
  ref(on = true): this {
    if (!this.#closed) this.#d.binding.ref(this.#id, on);
    return this;
  }

  /**
   * Stops receiving at once (no handler runs after this call returns); resolves when the socket is
   * closed and its port free again. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#d.sockets.delete(this.#id);
    this.#closing = new Promise<void>((resolve) => this.#d.binding.close(this.#id, resolve));
    return this.#closing;
  }

  /** @internal */
  deliver(data: Buffer, from: DatagramSource): void {
    this.stats.datagrams++;
    this.stats.bytes += data.length;
    if (!this.#onDatagram) return;
    try {
      this.#onDatagram(data, from);
    } catch (err) {
      this.#reportError(err);
    }
  }

  /** @internal */
  deliverOversize(from: DatagramSource): void {
    this.stats.oversize++;
    if (!this.#onOversize) return;
    try {
      this.#onOversize(from);
    } catch (err) {
      this.#reportError(err);
    }
  }

  #reportError(err: unknown): void {
    try {
      this.#onError(err);
    } catch {
      // an error handler that throws has nowhere left to go
    }
  }
}
