// INVITE dialogs of the simulated devices: answers the platform's offer with a sendonly SDP,
// streams the media file after the ACK, stops on BYE, and for Playback sends the file once and
// then MediaStatus 121, keeping the dialog until the platform's BYE.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { splitAnnexBAccessUnits, type AccessUnit } from '@gb28181/media';
import { mediaStatusXml } from './manscdp.ts';
import { MediaSender } from './media-sender.ts';
import { buildSdpAnswer, parseSdpOffer } from './sdp.ts';
import type { PeerAddress, SimLink } from './sim-link.ts';
import { makeSipResponse, parseSipUri, serializeSipMessage, type SipMessage } from './sip-codec.ts';
import type { CallHandler, SimulatedDevice } from './simulated-device.ts';
import type { Simulator } from './simulator.ts';

export interface MediaCallsOptions {
  /** Annex-B elementary stream (e.g. the media package's test fixture). */
  file: string;
  codec: 'h264' | 'h265';
  /** Default 25. */
  fps?: number;
}

interface Call {
  callId: string;
  device: SimulatedDevice;
  channelId: string;
  localTag: string;
  remoteTag: string;
  sender: MediaSender;
  final: Buffer;
  link: SimLink;
  from: PeerAddress;
  playback: boolean;
  acked: boolean;
  retransmit?: NodeJS.Timeout;
}

export interface MediaCallsStats {
  active: number;
  started: number;
  ended: number;
}

export class MediaCalls implements CallHandler {
  readonly #calls = new Map<string, Call>();
  /** INVITEs being prepared (sockets opening): a retransmission meanwhile must not start a second call. */
  readonly #inviting = new Set<string>();
  readonly #accessUnits: AccessUnit[];
  readonly #fps: number;
  #started = 0;
  #ended = 0;

  constructor(private readonly sim: Simulator, o: MediaCallsOptions) {
    this.#fps = o.fps ?? 25;
    this.#accessUnits = splitAnnexBAccessUnits(readFileSync(o.file), o.codec, this.#fps);
    if (this.#accessUnits.length === 0) throw new TypeError(`no ${o.codec} access units in ${o.file}`);
  }

  stats(): MediaCallsStats {
    return { active: this.#calls.size, started: this.#started, ended: this.#ended };
  }

  onRequest(device: SimulatedDevice, m: SipMessage, link: SimLink, from: PeerAddress): boolean {
    const callId = m.headers['call-id'] ?? '';
    const call = this.#calls.get(callId);
    switch (m.method) {
      case 'INVITE':
        if (call) {
          link.send(call.final, from); // retransmitted INVITE: repeat our answer
          return true;
        }
        if (this.#inviting.has(callId)) return true;
        this.#inviting.add(callId);
        void this.#invite(device, m, link, from)
          .catch((err: unknown) => {
            this.sim.logger.warn({ err, callId }, 'INVITE handling failed');
            device.reply(m, 500, 'Server Internal Error', link, from);
          })
          .finally(() => this.#inviting.delete(callId));
        return true;
      case 'ACK':
        if (call && !call.acked) {
          call.acked = true;
          if (call.retransmit) clearTimeout(call.retransmit);
          call.sender.start().catch((err: unknown) => {
            this.sim.logger.warn({ err, callId }, 'media could not start');
          });
        }
        return true;
      case 'BYE':
        device.reply(m, call ? 200 : 481, call ? 'OK' : 'Call Does Not Exist', link, from);
        if (call) void this.#end(call);
        return true;
      case 'CANCEL':
        device.reply(m, 200, 'OK', link, from);
        return true;
      case 'INFO':
        if (!call) return false;
        device.reply(m, 200, 'OK', link, from);
        this.#control(call, Buffer.from(m.content ?? '', 'latin1').toString('utf8'));
        return true;
      default:
        return false;
    }
  }

  async #invite(device: SimulatedDevice, m: SipMessage, link: SimLink, from: PeerAddress): Promise<void> {
    const callId = m.headers['call-id'] ?? '';
    const channelId = parseSipUri(m.uri ?? '')?.user ?? '';
    if (!device.channels.some((c) => c.channelId === channelId) && channelId !== device.deviceId) {
      device.reply(m, 404, 'Not Found', link, from);
      return;
    }
    const offer = parseSdpOffer(Buffer.from(m.content ?? '', 'latin1').toString('utf8'));
    if (!offer) {
      device.reply(m, 488, 'Not Acceptable Here', link, from);
      return;
    }
    device.reply(m, 100, 'Trying', link, from);
    const ssrc = offer.ssrc && /^\d{1,10}$/.test(offer.ssrc) ? offer.ssrc : `0${device.deviceId.slice(3, 8)}${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}`;
    const playback = offer.sessionName.toLowerCase() !== 'play';
    const sender = await MediaSender.prepare({
      accessUnits: this.#accessUnits, fps: this.#fps, ssrc: Number(ssrc) >>> 0, transport: offer.transport,
      remote: { host: offer.ip, port: offer.port }, bindHost: '0.0.0.0', loop: !playback, logger: this.sim.logger,
      speed: offer.sessionName.toLowerCase() === 'download' && offer.downloadSpeed && offer.downloadSpeed > 0 ? Math.min(offer.downloadSpeed, 16) : 1,
    });
    const localTag = randomBytes(5).toString('hex');
    const sdp = buildSdpAnswer({ channelId, ip: this.sim.localHost, port: sender.localPort, offer, ssrc });
    const res = makeSipResponse(m, 200, 'OK', {
      headers: {
        contact: [{ uri: `sip:${channelId}@${link.localHost}:${link.localPort}`, params: {} }],
        'content-type': 'application/sdp',
        'user-agent': 'gb-sim',
      },
      content: sdp,
    });
    if (res.headers.to) res.headers.to = { ...res.headers.to, params: { ...res.headers.to.params, tag: localTag } };
    const final = serializeSipMessage(res, device.quirks.lfOnly);
    const call: Call = {
      callId, device, channelId, localTag, remoteTag: m.headers.from?.params.tag ?? '', sender, final, link, from, playback, acked: false,
    };
    this.#calls.set(callId, call);
    this.#started++;
    sender.on('end', () => void this.#playbackEnded(call));
    sender.on('error', (err) => this.sim.logger.warn({ err, callId }, 'media send error'));
    link.send(final, from);
    if (link.transport === 'udp') {
      // 200 OK to INVITE is retransmitted by the UAS until the ACK (RFC 3261 13.3.1.4).
      let interval = 500;
      const again = () => {
        if (call.acked || !this.#calls.has(callId)) return;
        link.send(final, from);
        interval = Math.min(interval * 2, 4000);
        call.retransmit = setTimeout(again, interval);
      };
      call.retransmit = setTimeout(again, interval);
    }
  }

  #control(call: Call, body: string): void {
    if (/^PAUSE\b/m.test(body)) call.sender.pause();
    else if (/^PLAY\b/m.test(body)) call.sender.resume();
  }

  async #playbackEnded(call: Call): Promise<void> {
    if (!this.#calls.has(call.callId)) return;
    const xml = mediaStatusXml({ deviceId: call.device.deviceId, sn: call.device.nextSn(), charset: call.device.charset });
    await call.device
      .sendManscdp(xml, { callId: call.callId, fromTag: call.localTag, toTag: call.remoteTag })
      .catch((err: unknown) => this.sim.logger.warn({ err, callId: call.callId }, 'MediaStatus 121 not answered'));
  }

  async #end(call: Call): Promise<void> {
    if (!this.#calls.delete(call.callId)) return;
    if (call.retransmit) clearTimeout(call.retransmit);
    this.#ended++;
    await call.sender.close();
  }

  async closeDevice(device: SimulatedDevice): Promise<void> {
    await Promise.all([...this.#calls.values()].filter((c) => c.device === device).map((c) => this.#end(c)));
  }
}

export function createMediaCalls(sim: Simulator, o: MediaCallsOptions): MediaCalls {
  return new MediaCalls(sim, o);
}
