import type { PlayStep } from './play-errors.ts';
import type { PlayMediaStats } from './play-dependencies.ts';

// What GET /streams/:id shows about how a stream got (or failed to get) to playing. Stored as JSON
// on the stream row so it survives the stream and a restart.

export interface StepRecord {
  step: PlayStep | 'reattach' | 'bye';
  at: number; // Unix ms
  ms: number; // how long the step took
  ok: boolean;
  error?: string;
}

export interface StreamDiagnosis {
  transport: string;
  port?: number;
  mediaIp?: string;
  ssrcOffered: string;
  ssrcAnswered?: string;
  sdpOffer?: string;
  sdpAnswer?: string;
  answerAddress?: string; // c= / m= of the answer (where tcp-active dials)
  steps: StepRecord[];
  failedStep?: string;
  firstPacketAt?: number;
  firstPacketFrom?: string;
  firstKeyFrameAt?: number;
  packets: number;
  bytes: number;
  lost: number;
  frames: number;
  video?: { codec: string; width?: number; height?: number };
  audio?: { codec: string };
  lastError?: string;
  stopReason?: string;
}

export function newDiagnosis(transport: string, ssrc: string): StreamDiagnosis {
  return { transport, ssrcOffered: ssrc, steps: [], packets: 0, bytes: 0, lost: 0, frames: 0 };
}

export function applyStats(d: StreamDiagnosis, s: PlayMediaStats | undefined): void {
  if (!s) return;
  d.firstPacketAt = s.firstPacketAt ?? d.firstPacketAt;
  d.firstPacketFrom = s.firstPacketFrom ?? d.firstPacketFrom;
  d.packets = s.packets;
  d.bytes = s.bytes;
  d.lost = s.lost;
  d.frames = s.frames;
  if (s.video) d.video = { ...s.video };
  if (s.audio) d.audio = { ...s.audio };
}

/** Runs one step of a play and records its outcome; rethrows so the caller can fail the play. */
export async function recordStep<T>(d: StreamDiagnosis, step: StepRecord['step'], fn: () => Promise<T>): Promise<T> {
  const at = Date.now();
  try {
    const v = await fn();
    d.steps.push({ step, at, ms: Date.now() - at, ok: true });
    return v;
  } catch (err) {
    const error = describeError(err);
    d.steps.push({ step, at, ms: Date.now() - at, ok: false, error });
    d.failedStep ??= step;
    d.lastError = `${step}: ${error}`;
    throw err;
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const status = (err as { status?: unknown }).status;
    return typeof status === 'number' && !err.message.includes(String(status)) ? `${status} ${err.message}` : err.message;
  }
  return String(err);
}

/** Pulls the SDP texts out of a dialog state without depending on its exact field names. */
export function sdpFromDialogState(state: object): { offer?: string; answer?: string } {
  const s = state as Record<string, unknown>;
  const text = (...names: string[]) => {
    for (const n of names) if (typeof s[n] === 'string') return s[n] as string;
    return undefined;
  };
  return { offer: text('offerSdp', 'offer', 'localSdp', 'sdpOffer'), answer: text('answerSdp', 'answer', 'remoteSdp', 'sdpAnswer') };
}
