// The GB28181 SDP offer (Play / Playback / Download over UDP or TCP, y= SSRC) and a tolerant
// reader for the device's answer (c=, m= port and proto, y=, a=setup).
import type { InviteOptions, ParsedSdp } from './types.ts';

export interface OfferInput extends Pick<InviteOptions, 'kind' | 'channelId' | 'ssrc' | 'mediaIp' | 'mediaPort' | 'transport' | 'start' | 'end' | 'downloadSpeed'> {
  serverId: string;
}

export function buildOffer(o: OfferInput): string {
  const live = o.kind === 'Play';
  const tcp = o.transport !== 'udp';
  const lines = [
    'v=0',
    `o=${o.serverId} 0 0 IN IP4 ${o.mediaIp}`,
    `s=${o.kind}`,
  ];
  if (!live) lines.push(`u=${o.channelId}:0`);
  lines.push(`c=IN IP4 ${o.mediaIp}`);
  lines.push(live ? 't=0 0' : `t=${Math.floor(o.start ?? 0)} ${Math.floor(o.end ?? 0)}`);
  lines.push(`m=video ${o.mediaPort} ${tcp ? 'TCP/RTP/AVP' : 'RTP/AVP'} 96 97 98 99`);
  lines.push('a=recvonly', 'a=rtpmap:96 PS/90000', 'a=rtpmap:97 MPEG4/90000', 'a=rtpmap:98 H264/90000', 'a=rtpmap:99 H265/90000');
  if (tcp) {
    // tcp-passive: we listen, the device connects; tcp-active: we connect to the device.
    lines.push(`a=setup:${o.transport === 'tcp-passive' ? 'passive' : 'active'}`, 'a=connection:new');
  }
  if (o.kind === 'Download' && o.downloadSpeed) lines.push(`a=downloadspeed:${o.downloadSpeed}`);
  lines.push(`y=${o.ssrc}`);
  return lines.join('\r\n') + '\r\n';
}

export class SdpError extends Error {
  override name = 'SdpError';
}

/** Reads the answer; throws SdpError when it has no usable address or video port. */
export function parseAnswer(sdp: string): ParsedSdp {
  let sessionIp: string | undefined;
  let mediaIp: string | undefined;
  let port: number | undefined;
  let proto = '';
  let inVideo = false;
  let seenMedia = false;
  const out: Omit<ParsedSdp, 'ip' | 'port' | 'transport'> = { payloads: {} };
  for (const rawLine of sdp.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line.length < 2 || line[1] !== '=') continue;
    const v = line.slice(2).trim();
    switch (line[0]) {
      case 's':
        out.sessionName = v;
        break;
      case 'c': {
        const m = /^IN\s+IP[46]\s+([^\s/]+)/i.exec(v);
        if (m) {
          if (inVideo) mediaIp = m[1];
          else if (!seenMedia) sessionIp = m[1];
        }
        break;
      }
      case 'm': {
        seenMedia = true;
        const m = /^(\w+)\s+(\d+)(?:\/\d+)?\s+(\S+)/.exec(v);
        inVideo = !!m && m[1]!.toLowerCase() === 'video' && port === undefined;
        if (inVideo && m) {
          port = Number(m[2]);
          proto = m[3]!.toUpperCase();
        }
        break;
      }
      case 'y':
        out.ssrc = v;
        break;
      case 'a': {
        if (!inVideo && seenMedia) break;
        const setup = /^setup:\s*(active|passive|actpass)/i.exec(v);
        if (setup) out.setup = setup[1]!.toLowerCase() as ParsedSdp['setup'];
        const map = /^rtpmap:\s*(\d+)\s+(\S+)/i.exec(v);
        if (map) out.payloads[map[1]!] = map[2]!;
        break;
      }
    }
  }
  const ip = mediaIp ?? sessionIp;
  if (!ip) throw new SdpError('answer has no c= address');
  if (port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) throw new SdpError('answer has no m=video port');
  return { ...out, ip, port, transport: proto.includes('TCP') ? 'tcp' : 'udp' };
}
