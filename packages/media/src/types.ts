import type { Logger } from 'pino';
import type { AudioCodec, VideoCodec } from './access-unit.ts';

export type StreamTransport = 'udp' | 'tcp-passive' | 'tcp-active';

export interface MediaEngineOptions {
  /** Where RTP receivers listen. Also the bind address of the HTTP/RTMP listeners. */
  bindIp: string;
  /** Inclusive range, one port per stream (UDP and TCP both free). GB_RTP_PORTS, default 30000-30500. */
  rtpPorts: [number, number];
  /** HTTP-FLV, WS-FLV and HLS (GB_MEDIA_HTTP_PORT, default 8000). 0 = ephemeral, null = no listener. */
  httpPort: number | null;
  /** RTMP (GB_MEDIA_RTMP_PORT, default 1935). 0 = ephemeral, null = no listener. */
  rtmpPort: number | null;
  /** HLS segments go to `<dataDir>/hls/<streamId>/` (GB_DATA_DIR). */
  dataDir: string;
  /**
   * HLS segment target (default 2 s), live playlist length in segments (default 6) and TS muxer:
   * 'native' (default, our ts-muxer.ts) or 'mediabunny' (about 3x the CPU per stream, see bench/media-streams.ts).
   */
  hls?: { segmentSeconds: number; playlistSize: number; muxer?: 'native' | 'mediabunny' };
  /** 'noViewers' after this long with zero viewers (GB_NO_VIEWER_CLOSE_S, default 300). */
  noViewerCloseS?: number;
  /** 'timeout' {reason:'no-first-packet'} when nothing arrived this long after openStream (default 10). */
  firstPacketTimeoutS?: number;
  /** 'timeout' {reason:'idle'} when packets stop for this long (default 10). */
  idleTimeoutS?: number;
  /**
   * When set, every play needs a `sign` query parameter made with this secret (play-signature.ts):
   * node-media-server checks HTTP-FLV, WS-FLV and RTMP, the HLS handler checks playlists and segments.
   * Shared by the engines of one process (one node-media-server). Default '' = open.
   */
  playSecret?: string;
  /** RTP packets held back waiting for a missing one (default 32). */
  reorderWindow?: number;
  /**
   * Worker threads that run the receive sockets, RTP parse, reorder and PS demux (GB_MEDIA_INGEST_WORKERS).
   * Access units come back to the main thread, where FLV/node-media-server and HLS run.
   * 0 = everything in the main thread. Default min(2, os.availableParallelism()): on 2 cores (sender
   * included, bench/media-streams.ts --workers K) all three kept up with 300 streams; at 350 the main
   * thread (K=0) and the single worker (K=1) were full and fell behind, 2 workers were not. The CPU
   * per stream is the same (~0.42 % of a core); with workers the main thread keeps only ~0.07 of it,
   * so one worker carries roughly 400 streams and the main thread over 1,000: raise it on big hosts.
   */
  ingestWorkers?: number;
  /**
   * How RTP over UDP is read: 'batch' (recvmmsg, @gb28181/udp-batch; default where its addon built)
   * or 'dgram' (node:dgram; the fallback, about 2.5x the receive CPU per datagram).
   */
  udpReceive?: 'batch' | 'dgram';
  logger?: Logger;
}

export interface OpenStreamOptions {
  streamId: string;
  app?: 'rtp';
  transport: StreamTransport;
  /** A fixed port instead of one from the range. */
  port?: number;
  /** SSRC from the SDP answer; packets of another SSRC are counted and logged, not dropped (devices lie). */
  expectedSsrc?: number;
}

export interface MediaStreamStats {
  firstPacketAt?: number;
  /** `ip:port` of the first packet: the stream is bound to it. */
  firstPacketFrom?: string;
  packets: number;
  bytes: number;
  lost: number;
  frames: number;
  video?: { codec: VideoCodec; width?: number; height?: number };
  audio?: { codec: AudioCodec };
  viewers: number;
  viewersByProtocol: { rtmp: number; flv: number; hls: number };
  /** datagrams from other sources, rejected connections, unparsable packets */
  droppedPackets: number;
  /** frames dropped because the main thread fell behind the ingest workers (StreamIngestStats.droppedFrames) */
  droppedFrames: number;
}

export type TimeoutReason = 'no-first-packet' | 'idle';

export type MediaStreamEvents = {
  firstKeyFrame: [];
  timeout: [{ reason: TimeoutReason }];
  noViewers: [];
  viewers: [number];
  close: [{ reason: string }];
};

export type MediaEngineEvents = {
  /** Viewer count of a stream changed. */
  viewers: [{ streamId: string; viewers: number }];
  streamClose: [{ streamId: string; reason: string }];
};
