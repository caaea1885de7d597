// Public types of sip-core (docs/architecture.md "sip-core public API").
import type { Logger } from 'pino';

export type Charset = 'auto' | 'gb18030' | 'utf-8';
export type SipTransportName = 'udp' | 'tcp';
export type MediaTransport = 'udp' | 'tcp-passive' | 'tcp-active';

/** RFC 3261 timer values in ms, plus our own sweeper and flush periods. */
export interface SipTimers {
  /** RTT estimate; first UDP retransmission. Default 500. */
  T1: number;
  /** Retransmission interval cap. Default 4000. */
  T2: number;
  /** RFC 3261 T4 (max time a message stays in the network). Default 5000; nothing here needs it yet. */
  T4: number;
  /** Client transaction give-up (timer B/F), and how long a server transaction keeps its response (timer J). Default 32000 (64*T1). */
  timeout: number;
  /** How often presence is checked for keepalive and registration expiry. Default 1000. */
  sweepIntervalMs: number;
  /** How often presence changes are flushed to the PresenceStore. Default 1000. */
  presenceFlushMs: number;
  /** How long a credential lookup result is cached. Default 10000 (unknown: a fifth of it). */
  credentialCacheMs: number;
}

export interface DeviceCredentials {
  deviceId: string;
  password: string;
  charset?: Charset;
}

export interface DeviceCredentialStore {
  /** null = unknown device. For policy 'open' the server calls create() on first valid register. */
  lookup(deviceId: string): Promise<DeviceCredentials | null>;
  create?(deviceId: string): Promise<void>;
}

export interface PresenceEntry {
  deviceId: string;
  host: string;
  port: number;
  transport: SipTransportName;
  lastSeen: number;
  expiresAt: number;
}

/** Hot path: called at most in batches, never a scan per message. */
export interface PresenceStore {
  setOnline(entries: PresenceEntry[]): Promise<void>;
  setOffline(deviceIds: string[]): Promise<void>;
}

export interface SipServerOptions {
  /** 20 digits; realm/domain = first 10. */
  serverId: string;
  host: string;
  /** UDP and TCP on the same port; 0 = ephemeral (same number for both). */
  port: number;
  /** Via/Contact/SDP defaults. */
  publicIp: string;
  registerPolicy: 'known' | 'open';
  /** Required for 'open'. */
  globalPassword?: string;
  /** Offline after this long without keepalive. Default 180. */
  keepaliveTimeoutS: number;
  /** HMAC key for stateless nonces (same on every node). */
  nonceSecret: string;
  credentials: DeviceCredentialStore;
  /** Shared presence; default in-memory (no-op store). */
  presence?: PresenceStore;
  logger?: Logger;
  timers?: Partial<SipTimers>;
  /** Query the catalog after each first registration. Default true. */
  catalogOnRegister?: boolean;
  /** Catalog queries after registration that may run at once (a restart re-registers everyone). Default 20. */
  catalogConcurrency?: number;
  /** Nonce validity in seconds. Default 300. */
  nonceTtlS?: number;
  /** Failed digest attempts per (device, source ip) before 403 and a ban. Default 5. */
  maxAuthFailures?: number;
  /** Ban length after too many failures, seconds. Default 60. */
  authBanS?: number;
}

export interface RegisteredDevice {
  deviceId: string;
  /** Source address of the last REGISTER or keepalive (where requests go). */
  host: string;
  port: number;
  transport: SipTransportName;
  /** Contact URI the device sent (often a private address; informational). */
  contact?: string;
  userAgent?: string;
  registeredAt: number;
  /** Unix ms when the registration lapses. */
  expiresAt: number;
  /** Unix ms of the last REGISTER or keepalive. */
  lastSeen: number;
  online: boolean;
  /** True when this registration refreshed one that was still valid. */
  refresh: boolean;
  charset: Charset;
}

export interface CatalogItem {
  deviceId: string;
  name?: string;
  manufacturer?: string;
  model?: string;
  owner?: string;
  civilCode?: string;
  block?: string;
  address?: string;
  parental?: number;
  parentId?: string;
  businessGroupId?: string;
  safetyWay?: number;
  registerWay?: number;
  certNum?: string;
  certifiable?: number;
  errCode?: number;
  endTime?: string;
  secrecy?: number;
  ipAddress?: string;
  port?: number;
  password?: string;
  /** Normalised ON / OFF. */
  status?: 'ON' | 'OFF';
  longitude?: number;
  latitude?: number;
  ptzType?: number;
  /** Catalog NOTIFY only: ON/OFF/VLOST/DEFECT/ADD/DEL/UPDATE. */
  event?: string;
  /** What the id says it is: a civil-code region, a business group / virtual organisation, or a device/channel. */
  kind: 'region' | 'group' | 'channel';
}

export interface CatalogResult {
  deviceId: string;
  sumNum: number;
  items: CatalogItem[];
  /** All SumNum items arrived before the timeout. */
  complete: boolean;
}

export interface DeviceInfo {
  deviceId: string;
  deviceName?: string;
  result?: string;
  manufacturer?: string;
  model?: string;
  firmware?: string;
  channel?: number;
}

export interface DeviceStatus {
  deviceId: string;
  result?: string;
  online?: string;
  status?: string;
  encode?: string;
  record?: string;
  deviceTime?: string;
  alarmStatus?: string;
}

export interface RecordItem {
  deviceId: string;
  name?: string;
  filePath?: string;
  address?: string;
  /** Device local time as sent, `YYYY-MM-DDTHH:MM:SS`. */
  startTime: string;
  endTime: string;
  secrecy?: number;
  type?: string;
  recorderId?: string;
  fileSize?: number;
}

export interface QueryOptions {
  timeoutMs?: number;
}

export interface InviteOptions {
  deviceId: string;
  channelId: string;
  kind: 'Play' | 'Playback' | 'Download';
  /** 10 digits. */
  ssrc: string;
  mediaIp: string;
  mediaPort: number;
  transport: MediaTransport;
  /** Unix s, playback/download. */
  start?: number;
  end?: number;
  downloadSpeed?: number;
  /** Give up waiting for the final response. Default 10000. */
  timeoutMs?: number;
}

export interface ParsedSdp {
  /** c= address (session or media level). */
  ip: string;
  /** m=video port. */
  port: number;
  /** y= as sent (may be absent or 0). */
  ssrc?: string;
  /** a=setup value for TCP. */
  setup?: 'active' | 'passive' | 'actpass';
  transport: 'udp' | 'tcp';
  /** s= line. */
  sessionName?: string;
  payloads: Record<string, string>;
}

/** Everything needed to send BYE/INFO in a dialog, JSON-serialisable (kept across restarts). */
export interface DialogState {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** Contact of the 200 (or the INVITE's Request-URI when it had none). */
  remoteTarget: string;
  /** From URI (ours) and To URI (the channel) of the INVITE. */
  localUri: string;
  remoteUri: string;
  /** CSeq number last used by us in this dialog. */
  cseq: number;
  deviceId: string;
  channelId: string;
  /** Device source address and SIP transport. */
  host: string;
  port: number;
  transport: SipTransportName;
  offer: string;
  answer: string;
}

export type SipServerEventMap = {
  registered: [RegisteredDevice];
  unregistered: [{ deviceId: string; reason: 'expires0' | 'expired' }];
  online: [RegisteredDevice];
  offline: [{ deviceId: string; reason: 'keepalive-timeout' | 'registration-expired' | 'unregistered' }];
  keepalive: [{ deviceId: string; at: number }];
  catalog: [{ deviceId: string; items: CatalogItem[]; sumNum: number; complete: boolean }];
  mediaStatus: [{ deviceId: string; notifyType: string; callId?: string }];
  bye: [{ callId: string }];
  authFailed: [{ deviceId: string; host: string; reason: string }];
};
/** Name used by docs/architecture.md. */
export type SipServerEvents = SipServerEventMap;
