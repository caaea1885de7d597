// The UAC side of calls: INVITE with the GB offer → provisional → 200 → ACK (the INVITE's CSeq),
// a Dialog per call, BYE/INFO built from saved state, CANCEL on give-up, and a late 2xx to an
// abandoned INVITE answered with ACK + BYE so the device does not stream into the void.
import type { Logger } from 'pino';
import type { SipMessage } from 'sip';
import { Dialog, type DialogOwner } from './dialog.ts';
import { InvalidStateError, SipResponseError } from './errors.ts';
import { newTag, USER_AGENT, type LocalEndpoint } from './local-endpoint.ts';
import { buildOffer, parseAnswer } from './sdp.ts';
import type { ClientTransactions } from './transaction-client.ts';
import type { Peer, SipTransport } from './transport.ts';
import type { DialogState, InviteOptions, ParsedSdp } from './types.ts';

export interface DialogClientOptions {
  endpoint: LocalEndpoint;
  transport: SipTransport;
  transactions: ClientTransactions;
  /** Where a device is now (keepalives may have moved it); undefined when unknown. */
  currentPeer(deviceId: string): Peer | undefined;
  logger: Logger;
}

interface Abandoned {
  at: number;
  to: Peer;
  deviceId: string;
}

export class DialogClient implements DialogOwner {
  readonly #dialogs = new Map<string, Dialog>();
  readonly #abandoned = new Map<string, Abandoned>();
  #closed = false;

  constructor(private readonly o: DialogClientOptions) {}

  async invite(opts: InviteOptions, peer: Peer): Promise<Dialog> {
    const ep = this.o.endpoint;
    const offer = buildOffer({ ...opts, serverId: ep.serverId });
    const callId = ep.newCallId();
    const localTag = newTag();
    const remoteUri = `sip:${opts.channelId}@${ep.domain}`;
    const cseq = ep.nextCseq();
    const rq: SipMessage = {
      method: 'INVITE',
      uri: `sip:${opts.channelId}@${peer.host}:${peer.port}`,
      version: '2.0',
      headers: {
        via: ep.via(peer.transport),
        from: { uri: ep.uri, params: { tag: localTag } },
        to: { uri: remoteUri, params: {} },
        'call-id': callId,
        cseq: { seq: cseq, method: 'INVITE' },
        contact: ep.contact(),
        'max-forwards': '70',
        'user-agent': USER_AGENT,
        subject: `${opts.channelId}:${opts.ssrc},${ep.serverId}:0`,
        'content-type': 'APPLICATION/SDP',
      },
      content: offer,
    };
    let rs: SipMessage;
    try {
      rs = await this.o.transactions.request(rq, peer, { timeoutMs: opts.timeoutMs ?? 10000 });
    } catch (err) {
      this.#abandon(rq, peer, opts.deviceId);
      throw err;
    }
    const status = rs.status ?? 0;
    if (status >= 300) throw new SipResponseError(status, rs.reason ?? '', 'INVITE');
    const contact = rs.headers.contact;
    const state: DialogState = {
      callId,
      localTag,
      remoteTag: rs.headers.to?.params?.tag ?? '',
      remoteTarget: Array.isArray(contact) && contact[0]?.uri ? contact[0].uri : rq.uri!,
      localUri: ep.uri,
      remoteUri,
      cseq,
      deviceId: opts.deviceId,
      channelId: opts.channelId,
      host: peer.host,
      port: peer.port,
      transport: peer.transport,
      offer,
      answer: rs.content ?? '',
    };
    this.#sendAck(state, cseq);
    let answer: ParsedSdp;
    try {
      answer = parseAnswer(state.answer);
    } catch (err) {
      // A 200 we cannot use still established a call on the device: end it.
      await this.sendInDialog({ ...state }, 'BYE').catch(() => undefined);
      throw err;
    }
    if (this.#closed) throw new InvalidStateError('sip server closed');
    const dialog = new Dialog(state, answer, this, this.o.logger);
    this.#dialogs.set(callId, dialog);
    return dialog;
  }

  restore(state: DialogState): Dialog {
    if (!state || !state.callId || !state.remoteTarget || !state.host || !state.port) throw new TypeError('incomplete dialog state');
    const existing = this.#dialogs.get(state.callId);
    if (existing) return existing;
    let answer: ParsedSdp;
    try {
      answer = parseAnswer(state.answer ?? '');
    } catch {
      answer = { ip: state.host, port: 0, transport: 'udp', payloads: {} };
    }
    const dialog = new Dialog({ ...state }, answer, this, this.o.logger);
    this.#dialogs.set(state.callId, dialog);
    return dialog;
  }

  /** DialogOwner: BYE/INFO from the saved state, CSeq + 1, to the device's current address. */
  sendInDialog(state: DialogState, method: 'BYE' | 'INFO', body?: { type: string; content: string }): Promise<SipMessage> {
    if (this.#closed) return Promise.reject(new InvalidStateError('sip server closed'));
    state.cseq += 1;
    const to = this.o.currentPeer(state.deviceId) ?? { host: state.host, port: state.port, transport: state.transport };
    const rq = this.#inDialogRequest(state, method, state.cseq, to.transport);
    rq.headers['user-agent'] = USER_AGENT;
    if (body) {
      rq.headers['content-type'] = body.type;
      rq.content = body.content;
    }
    return this.o.transactions.request(rq, to);
  }

  /** DialogOwner */
  dialogClosed(callId: string): void {
    this.#dialogs.delete(callId);
  }

  /** The device hung up. False when the Call-ID names no dialog we know. */
  remoteBye(callId: string): boolean {
    const d = this.#dialogs.get(callId);
    d?.remoteBye();
    return d !== undefined;
  }

  /** A 2xx to an INVITE outside any transaction: our ACK was lost, or we gave up on the call. */
  strayInviteSuccess(rs: SipMessage): void {
    const callId = rs.headers['call-id'] ?? '';
    const d = this.#dialogs.get(callId);
    if (d) {
      this.#sendAck(d.state, rs.headers.cseq!.seq);
      return;
    }
    const gone = this.#abandoned.get(callId);
    if (!gone) return;
    this.#abandoned.delete(callId);
    const contact = rs.headers.contact;
    const state: DialogState = {
      callId,
      localTag: rs.headers.from?.params?.tag ?? '',
      remoteTag: rs.headers.to?.params?.tag ?? '',
      remoteTarget: Array.isArray(contact) && contact[0] ? contact[0].uri : `sip:${gone.deviceId}@${gone.to.host}:${gone.to.port}`,
      localUri: rs.headers.from?.uri ?? this.o.endpoint.uri,
      remoteUri: rs.headers.to?.uri ?? '',
      cseq: rs.headers.cseq!.seq,
      deviceId: gone.deviceId,
      channelId: '',
      host: gone.to.host,
      port: gone.to.port,
      transport: gone.to.transport,
      offer: '',
      answer: '',
    };
    this.#sendAck(state, state.cseq);
    this.sendInDialog(state, 'BYE').catch(() => undefined);
  }

  #sendAck(state: DialogState, seq: number): void {
    this.o.transport.send(this.#inDialogRequest(state, 'ACK', seq, state.transport), {
      host: state.host,
      port: state.port,
      transport: state.transport,
    });
  }

  /** A request within the dialog `state` describes: its target, tags, Call-ID and the given CSeq. */
  #inDialogRequest(state: DialogState, method: string, seq: number, transport: Peer['transport']): SipMessage {
    const ep = this.o.endpoint;
    return {
      method,
      uri: state.remoteTarget,
      version: '2.0',
      headers: {
        via: ep.via(transport),
        from: { uri: state.localUri, params: { tag: state.localTag } },
        to: { uri: state.remoteUri, params: state.remoteTag ? { tag: state.remoteTag } : {} },
        'call-id': state.callId,
        cseq: { seq, method },
        contact: ep.contact(),
        'max-forwards': '70',
      },
    };
  }

  /** INVITE timed out: CANCEL it and remember the call so a late 2xx is hung up. */
  #abandon(invite: SipMessage, to: Peer, deviceId: string): void {
    const now = Date.now();
    for (const [id, a] of this.#abandoned) if (now - a.at > 64_000) this.#abandoned.delete(id);
    this.#abandoned.set(invite.headers['call-id']!, { at: now, to, deviceId });
    this.o.transport.send(
      {
        method: 'CANCEL',
        uri: invite.uri,
        version: '2.0',
        headers: {
          via: invite.headers.via,
          from: invite.headers.from,
          to: invite.headers.to,
          'call-id': invite.headers['call-id'],
          cseq: { seq: invite.headers.cseq!.seq, method: 'CANCEL' },
          'max-forwards': '70',
        },
      },
      to,
    );
  }

  /** Server closing: dialogs are forgotten without signalling (they may be restored elsewhere). */
  close(): void {
    this.#closed = true;
    for (const d of [...this.#dialogs.values()]) d.serverClosed();
    this.#abandoned.clear();
  }
}
