// What the REST layer asks of the rest of the platform. The HTTP routes depend on these
// interfaces only; play/ and the SIP wiring implement them; tests may pass real instances.

export interface StreamUrls {
  rtmp: string;
  flv: string;
  wsflv: string;
  http: string; // HLS playlist
}

export interface PlayRequest {
  replay: 0 | 1;
  start?: number; // Unix s, playback
  end?: number;
}

export interface PlayService {
  /** Live: returns the channel's shared stream (opening it if needed). Playback: a new stream. */
  play(channelId: string, req: PlayRequest): Promise<{ streamid: string }>;
  /** BYE to the device, media closed, reason recorded on the stream. */
  stop(streamId: string, reason: string): Promise<void>;
  /** Ends every stream of a device (device deleted or offline). */
  stopDevice(deviceId: string, reason: string): Promise<void>;
  urls(streamId: string): StreamUrls;
  /** Live figures that are not kept in the database (viewers, packets, loss). */
  liveStats(streamId: string): Record<string, unknown> | undefined;
}

export interface RecordItem {
  deviceid: string;
  name: string;
  filepath: string;
  address: string;
  start: number; // Unix s
  end: number;
  secrecy: number;
  type: string;
  recorderid: string;
  filesize: number;
}

export interface RecordsResult {
  daynum: number;
  timenum: number;
  list: { date: string; items: { start: number; end: number }[] }[];
  items: RecordItem[];
}

export interface RecordService {
  query(channelId: string, start: number, end: number): Promise<RecordsResult>;
}

export interface DeviceSignaling {
  /** Re-query the catalog now; resolves to the number of channels synced. */
  syncCatalog(deviceId: string): Promise<number>;
  /** Device deleted through the API: drop its registration state. */
  forget(deviceId: string): void;
  setCharset(deviceId: string, charset: 'auto' | 'gb18030' | 'utf-8'): void;
  /** Settings a camera's GB28181 page needs. */
  sipSettings(): { server_id: string; domain: string; host: string; port: number; transports: string[] };
}
