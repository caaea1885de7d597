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
  /** HLS segments go to `<dataDir>/hls/<streamId>/` (GB_DATA_DIR) unless hlsDir is set. */
  dataDir: string;
  /**
   * HLS segments go to `<hlsDir>/<streamId>/` (GB_MEDIA_HLS_DIR). Live segments are deleted seconds
   * after they are written, so a tmpfs here saves the kernel writing them to disk: at 500 streams
   * there are ~1.7 GB of them, enough to start background writeback (measured: the difference
   * between real time and dropped frames on 2 cores, docs/benchmarks.md).
   */
  hlsDir?: string;
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
   * 0 = everything in the main thread. Default max(1, min(2, cores - 1)) (defaultIngestWorkers): on
   * 2 cores (sender included, bench/media-streams.ts --workers K, 500 streams) one worker kept up
   * (0.26 % of a core per stream) and two did not (0.32 %: more threads contending for the same two
   * cores). A worker costs ~0.11 % of a core per stream and the main thread ~0.08, so one worker
   * carries roughly 800 streams: raise it on big hosts.
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
