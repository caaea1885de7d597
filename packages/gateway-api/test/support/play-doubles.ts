// Stand-ins for sip-core and media at the play/ boundary, for the stream state machine tests: they
// record what play/ asked of them and let a test fire the events a device or a receiver would.
// End to end (real SIP, real RTP, ffprobe) is covered by the e2e-*.test.ts files.
import { EventEmitter } from 'node:events';
import type {
  PlayDialog,
  PlayInviteOptions,
  PlayMediaStats,
  PlayMediaStream,
  StreamTransport,
} from '../../src/play/play-dependencies.ts';

export class DoubleDialog extends EventEmitter implements PlayDialog {
  byes = 0;
  constructor(
    readonly state: { callId: string; offerSdp: string; answerSdp: string },
    readonly answer: { ip?: string; port?: number; ssrc?: string },
    private readonly log: string[],
  ) {
    super();
  }
  async bye(): Promise<void> {
    this.byes++;
    this.log.push(`BYE ${this.state.callId}`);
  }
}

export type InviteBehaviour = 'ok' | { status: number } | 'hang';

export class DoubleSip extends EventEmitter {
  readonly online = new Set<string>();
  readonly invites: PlayInviteOptions[] = [];
  readonly log: string[] = [];
  readonly dialogs: DoubleDialog[] = [];
  behaviour: InviteBehaviour = 'ok';
  inviteDelayMs = 20;
  records: Record<string, unknown>[] = [];
  recordQueries = 0;
  #calls = 0;

  device(deviceId: string): object | undefined {
    return this.online.has(deviceId) ? { deviceId } : undefined;
  }

  async invite(o: PlayInviteOptions): Promise<PlayDialog> {
    this.invites.push(o);
    await new Promise((r) => setTimeout(r, this.inviteDelayMs));
    const b = this.behaviour;
    if (b === 'hang') throw Object.assign(new Error('INVITE timeout'), { name: 'QueryTimeoutError' });
    if (typeof b === 'object') throw Object.assign(new Error(`device answered ${b.status}`), { status: b.status });
    const callId = `call-${++this.#calls}`;
    const d = new DoubleDialog(
      { callId, offerSdp: `v=0\r\ny=${o.ssrc}\r\n`, answerSdp: `v=0\r\ny=${o.ssrc}\r\n` },
      { ip: '127.0.0.1', port: 40000, ssrc: o.ssrc },
      this.log,
    );
    this.dialogs.push(d);
    return d;
  }

  restoreDialog(state: never): PlayDialog {
    const s = state as { callId: string; offerSdp: string; answerSdp: string };
    this.log.push(`restore ${s.callId}`);
    return new DoubleDialog(s, {}, this.log);
  }

  async queryRecordInfo(): Promise<Record<string, unknown>[]> {
    this.recordQueries++;
    await new Promise((r) => setTimeout(r, 50));
    return this.records;
  }
}

export class DoubleMediaStream extends EventEmitter implements PlayMediaStream {
  closedWith?: string;
  connectedTo?: string;
  readonly s: PlayMediaStats = { packets: 0, bytes: 0, lost: 0, frames: 0, viewers: 0 };
  constructor(
    readonly streamId: string,
    readonly port: number,
    readonly transport: StreamTransport,
    private readonly engine: DoubleMedia,
  ) {
    super();
  }
  async connect(host: string, port: number): Promise<void> {
    this.connectedTo = `${host}:${port}`;
  }
  stats(): PlayMediaStats {
    return { ...this.s };
  }
  async close(reason: string): Promise<void> {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    this.engine.forget(this.streamId, this);
  }
  /** What a device sending media looks like from play/'s side. */
  deliver(keyFrame = true): void {
    this.s.packets += 10;
    this.s.bytes += 10_000;
    this.s.firstPacketAt ??= Date.now();
    this.s.firstPacketFrom ??= '127.0.0.1:40000';
    if (keyFrame) this.emit('firstKeyFrame');
  }
}

export class DoubleMedia {
  readonly streams = new Map<string, DoubleMediaStream>();
  readonly opened: DoubleMediaStream[] = [];
  /** Called on every openStream: lets a test make the device send media. */
  onOpen: (s: DoubleMediaStream) => void = (s) => setTimeout(() => s.deliver(), 30);
  #port = 30000;

  async openStream(o: { streamId: string; transport: StreamTransport; port?: number }): Promise<PlayMediaStream> {
    if (this.streams.has(o.streamId)) throw new Error(`stream ${o.streamId} exists`);
    const s = new DoubleMediaStream(o.streamId, o.port ?? this.#port++, o.transport, this);
    this.streams.set(o.streamId, s);
    this.opened.push(s);
    this.onOpen(s);
    return s;
  }
  stream(streamId: string): PlayMediaStream | undefined {
    return this.streams.get(streamId);
  }
  forget(streamId: string, s: DoubleMediaStream): void {
    if (this.streams.get(streamId) === s) this.streams.delete(streamId);
  }
}
