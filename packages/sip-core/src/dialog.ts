// A confirmed INVITE dialog (or one restored after a restart): BYE and INFO are built from the
// saved state (remote target, tags, CSeq+1); the device hanging up arrives through remoteBye().
import { InvalidStateError, SipResponseError } from './errors.ts';
import { TypedEmitter } from '@gb28181/common';
import type { Logger } from 'pino';
import type { SipMessage } from 'sip';
import type { DialogState, ParsedSdp } from './types.ts';

export type DialogEvents = { bye: []; close: [] };

/** What a dialog needs from its server: send an in-dialog request, forget the dialog. */
export interface DialogOwner {
  sendInDialog(state: DialogState, method: 'BYE' | 'INFO', body?: { type: string; content: string }): Promise<SipMessage>;
  dialogClosed(callId: string): void;
}

export class Dialog extends TypedEmitter<DialogEvents> {
  readonly #state: DialogState;
  readonly answer: ParsedSdp;
  #closed = false;

  constructor(
    state: DialogState,
    answer: ParsedSdp,
    private readonly owner: DialogOwner,
    logger?: Logger,
  ) {
    super();
    this.emitterLogger = logger;
    this.#state = state;
    this.answer = answer;
  }

  /** A copy: callers persist it, the dialog keeps counting CSeq. */
  get state(): DialogState {
    return { ...this.#state };
  }

  get callId(): string {
    return this.#state.callId;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Hangs up. Resolves on any final response (a 481 means the device already forgot the call). */
  async bye(): Promise<void> {
    if (this.#closed) throw new InvalidStateError('dialog closed');
    this.#close();
    await this.owner.sendInDialog(this.#state, 'BYE');
  }

  /** MANSRTSP playback control (PAUSE / PLAY / Range / Scale). */
  async info(body: string): Promise<void> {
    if (this.#closed) throw new InvalidStateError('dialog closed');
    const rs = await this.owner.sendInDialog(this.#state, 'INFO', { type: 'Application/MANSRTSP', content: body });
    if ((rs.status ?? 0) >= 300) throw new SipResponseError(rs.status!, rs.reason ?? '', 'INFO');
  }

  /** The device sent BYE (already answered 200 by the server). */
  remoteBye(): void {
    if (this.#closed) return;
    this.safeEmit('bye');
    this.#close();
  }

  /** Server closing: forget without signalling. */
  serverClosed(): void {
    if (this.#closed) return;
    this.#close();
  }

  #close(): void {
    this.#closed = true;
    this.owner.dialogClosed(this.#state.callId);
    this.safeEmit('close');
  }
}
