import type { MediaStreamStats, StreamTransport } from '@gb28181/media';
import type { InviteOptions } from '@gb28181/sip-core';
import type { EventBus } from '../events/event-bus.ts';
import type { SharedState } from '../state/shared-state.ts';

// The slices of sip-core, media and the shared state that play/ relies on, written structurally
// (docs/architecture.md) so the real SipServer / MediaEngine / SharedState satisfy them and play/
// stays testable against any of them.

export type { StreamTransport } from '@gb28181/media';

/** What play/ asks sip-core to offer in an INVITE. */
export type PlayInviteOptions = InviteOptions;

/** Serialisable dialog state (Call-ID, tags, CSeq, remote target, SDP) saved on the stream row. */
export type PlayDialogState = object;

export interface PlayDialog {
  readonly state: PlayDialogState;
  readonly answer: { ip?: string; port?: number; ssrc?: string; setup?: string; transport?: string };
  bye(): Promise<void>;
  on(event: 'bye', listener: () => void): unknown;
}

/** sip-core's RecordItem; read field by field (records.ts) so raw MANSCDP names work too. */
export type PlayRecordInfoItem = object;

export interface PlaySignaling {
  device(deviceId: string): object | undefined;
  invite(o: PlayInviteOptions): Promise<PlayDialog>;
  restoreDialog(state: never): PlayDialog;
  queryRecordInfo(deviceId: string, channelId: string, start: Date, end: Date, o?: { timeoutMs?: number }): Promise<PlayRecordInfoItem[]>;
  on(event: 'bye', listener: (e: { callId: string }) => void): unknown;
  on(event: 'mediaStatus', listener: (e: { deviceId: string; notifyType: string; callId?: string }) => void): unknown;
  on(event: 'offline', listener: (e: { deviceId: string; reason: string }) => void): unknown;
}

/** The media figures play/ reads (the real MediaStream reports more). */
export type PlayMediaStats = Pick<MediaStreamStats, 'firstPacketAt' | 'firstPacketFrom' | 'packets' | 'bytes' | 'lost' | 'frames' | 'video' | 'audio' | 'viewers'>;

export interface PlayMediaStream {
  readonly streamId: string;
  readonly port: number;
  connect(host: string, port: number): Promise<void>;
  stats(): PlayMediaStats;
  close(reason: string): Promise<void>;
  on(event: 'firstKeyFrame', listener: () => void): unknown;
  on(event: 'timeout', listener: (e: { reason: 'no-first-packet' | 'idle' }) => void): unknown;
  on(event: 'noViewers', listener: () => void): unknown;
  on(event: 'viewers', listener: (count: number) => void): unknown;
  on(event: 'close', listener: (e: { reason: string }) => void): unknown;
}

export interface PlayMedia {
  openStream(o: { streamId: string; app?: 'rtp'; transport: StreamTransport; port?: number; expectedSsrc?: number }): Promise<PlayMediaStream>;
  stream(streamId: string): PlayMediaStream | undefined;
}

/** Cross-node coordination: a shared counter and a lock with a time to live. */
export type PlaySharedState = Pick<SharedState, 'incr' | 'tryLock'>;

/** Where stream lifecycle events go (webhooks, /events). */
export type PlayEventSink = Pick<EventBus, 'publish'>;
