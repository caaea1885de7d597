// --- ingest (RTP/PS in, access units out) ---
export type { AccessUnit, AudioCodec, MediaSink, VideoCodec } from './access-unit.ts';
export { TypedEmitter } from '@gb28181/common';
export { detectVideoCodec, findNalUnits, isKeyAccessUnit, parseVideoSize, splitAnnexBAccessUnits } from './annexb.ts';
export { splitAdtsFrames } from './adts.ts';
export { PsMuxer, STREAM_TYPE } from './ps-muxer.ts';
export type { PsMuxerOptions } from './ps-muxer.ts';
export { RtpPacketizer, frameInterleaved, frameRfc4571 } from './rtp-packetizer.ts';
export type { RtpPacketizerOptions } from './rtp-packetizer.ts';
export { parseRtpPacket } from './rtp-packet.ts';
export type { RtpPacket } from './rtp-packet.ts';
export { PsDemuxer } from './ps-demuxer.ts';
export type { PsDemuxerStats } from './ps-demuxer.ts';
export { RtpReorderer } from './rtp-reorderer.ts';
export { RtpTcpFramer } from './rtp-tcp-framer.ts';
export { RtpPsIngest } from './rtp-ps-ingest.ts';
export type { RtpPsIngestOptions, RtpPsIngestStats } from './rtp-ps-ingest.ts';
export { RtpReceiver } from './rtp-receiver.ts';
export { LocalStreamIngest } from './local-stream-ingest.ts';
export type { LocalStreamIngestOptions } from './local-stream-ingest.ts';
export { INGEST_FAILED } from './stream-ingest.ts';
export type { StreamIngest, StreamIngestEvents, StreamIngestStats } from './stream-ingest.ts';
export { IngestWorkerPool } from './ingest-worker-pool.ts';
export type { IngestWorkerInfo, IngestWorkerPoolOptions } from './ingest-worker-pool.ts';
export type { RtpReceiverEvents, RtpReceiverOptions, RtpReceiverStats, RtpTransport } from './rtp-receiver.ts';
// --- end ingest ---
// --- outputs and engine ---
export { createMediaEngine, defaultIngestWorkers, MediaEngine } from './media-engine.ts';
export { MediaStream } from './media-stream.ts';
export type {
  MediaEngineEvents,
  MediaEngineOptions,
  MediaStreamEvents,
  MediaStreamStats,
  OpenStreamOptions,
  StreamTransport,
  TimeoutReason,
} from './types.ts';
export { InvalidStateError, PortInUseError, PortPoolExhaustedError } from './errors.ts';
export { signPlay, verifyPlay } from './play-signature.ts';
export { FlvMuxer, encodeFlvTag, flvFileHeader } from './flv-muxer.ts';
export type { FlvTag } from './flv-muxer.ts';
export { HlsSegmenter } from './hls-segmenter.ts';
export type { LiveHlsSegmenter } from './hls-segmenter.ts';
export { NativeHlsSegmenter } from './native-hls-segmenter.ts';
export { TsMuxer } from './ts-muxer.ts';
export { assertTcpPortFree } from './nms-host.ts';
export { portFree } from './port-pool.ts';
// --- end outputs and engine ---
