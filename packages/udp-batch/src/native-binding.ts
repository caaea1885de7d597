// Loads the compiled addon (build/Release/udp_batch.node). It is missing where `node-gyp rebuild`
// failed at install (no compiler, not Linux): callers then use node:dgram.
import { createRequire } from 'node:module';

export interface NativeUdpBatch {
  /**
   * Registers this thread's batch callback; returns the metadata table and the staging buffer
   * (datagrams back to back, `usedBytes` of it filled), both read in place during onBatch.
   */
  init(onBatch: (count: number, usedBytes: number) => void): [ArrayBuffer, ArrayBuffer];
  /** Binds a socket and starts watching it: [id, bound port]. Throws an Error with `code` (EADDRINUSE, ...). */
  open(host: string, port: number, recvBufferBytes: number, sendBufferBytes: number, maxDatagramBytes: number): [number, number];
  /** Stops delivery at once; `onClosed` runs when the fd is closed (the port is free). */
  close(id: number, onClosed?: () => void): void;
  ref(id: number, on: boolean): void;
  sendBatch(id: number, datagrams: readonly Uint8Array[], port: number, host: string): number;
  sendSegmented(id: number, data: Uint8Array, segmentBytes: number, port: number, host: string): boolean;
}

/** uint32 fields per datagram in the metadata table: socket id, offset, length, port | flags << 16, 4 address words */
export const META_FIELDS = 8;
export const FLAG_TRUNCATED = 1;
export const FLAG_IPV6 = 2;

let binding: NativeUdpBatch | null = null;
let loadError: Error | undefined;
try {
  binding = createRequire(import.meta.url)('../build/Release/udp_batch.node') as NativeUdpBatch;
} catch (err) {
  loadError = err instanceof Error ? err : new Error(String(err));
}

export const native: NativeUdpBatch | null = binding;
export const nativeLoadError: Error | undefined = loadError;
