import type { TypedEmitter } from '@gb28181/common';
import type { AccessUnit, AudioCodec, VideoCodec } from './access-unit.ts';
import type { RtpTransport } from './rtp-receiver.ts';

/** What a stream's ingest has seen so far; read by MediaStream.stats() and its timeouts. */
export interface StreamIngestStats {
  /** RTP packets accepted from the bound source */
  packets: number;
  bytes: number;
  /** packets never received (reorder window gave them up) */
  lost: number;
  /** access units out, audio and video */
  frames: number;
  /** datagrams from other sources, rejected connections, unparsable packets */
  dropped: number;
  /**
   * access units an ingest worker dropped because the main thread fell behind (each stream then
   * resumes at a key frame); always 0 in the main thread, where the socket buffer overflows instead
   */
  droppedFrames: number;
  firstPacketAt?: number;
  lastPacketAt?: number;
  /** `ip:port` the stream is bound to */
  source?: string;
  videoCodec?: VideoCodec;
  audioCodec?: AudioCodec;
}

export type StreamIngestEvents = {
  accessUnit: [AccessUnit];
  bound: [{ host: string; port: number }];
  /** the bound TCP connection ended (TCP transports only) */
  disconnected: [{ reason: string }];
  /** the ingest cannot go on (its worker died); the stream should close */
  failed: [{ reason: string }];
};

/**
 * Per stream: a receive port, RTP parse, reorder and PS demux, access units out. Runs in this
 * thread (LocalStreamIngest) or in an ingest worker (WorkerStreamIngest); MediaStream cannot tell.
 */
export interface StreamIngest extends TypedEmitter<StreamIngestEvents> {
  readonly transport: RtpTransport;
  readonly port: number;
  stats(): StreamIngestStats;
  /** tcp-active: dial the device from our port. */
  connect(host: string, port: number): Promise<void>;
  /** End of input: held packets and the last frame are emitted before this resolves. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** MediaStream close reason when its ingest failed (e.g. its worker thread died). */
export const INGEST_FAILED = 'ingest-failed';
