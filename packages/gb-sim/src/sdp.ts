// The platform's SDP offer as a device reads it, and the device's sendonly answer.

export type MediaTransport = 'udp' | 'tcp-passive' | 'tcp-active';

export interface SdpOffer {
  sessionName: string; // Play | Playback | Download
  ip: string;
  port: number;
  /** Transport from the platform's side: tcp-passive = the platform listens, the device connects. */
  transport: MediaTransport;
  ssrc?: string;
  start: number;
  end: number;
  payloadTypes: number[];
  downloadSpeed?: number;
}

export function parseSdpOffer(sdp: string): SdpOffer | undefined {
  const lines = sdp.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const get = (p: string) => lines.find((l) => l.startsWith(p))?.slice(p.length);
  const c = /^IN\s+IP4\s+(\S+)/i.exec(get('c=') ?? '');
  const m = /^video\s+(\d+)\s+(\S+)\s*(.*)$/i.exec(get('m=') ?? '');
  if (!c || !m) return undefined;
  const tcp = m[2]!.toUpperCase().startsWith('TCP');
  const setup = (get('a=setup:') ?? 'passive').toLowerCase();
  const t = /^(\d+)\s+(\d+)/.exec(get('t=') ?? '0 0');
  const speed = get('a=downloadspeed:');
  return {
    sessionName: get('s=') ?? 'Play',
    ip: c[1]!,
    port: Number(m[1]),
    transport: tcp ? (setup === 'active' ? 'tcp-active' : 'tcp-passive') : 'udp',
    ssrc: get('y=')?.trim(),
    start: Number(t?.[1] ?? 0),
    end: Number(t?.[2] ?? 0),
    payloadTypes: (m[3] ?? '').split(/\s+/).filter(Boolean).map(Number),
    downloadSpeed: speed === undefined ? undefined : Number(speed),
  };
}

export function buildSdpAnswer(o: { channelId: string; ip: string; port: number; offer: SdpOffer; ssrc: string }): string {
  const tcp = o.offer.transport !== 'udp';
  const lines = [
    'v=0',
    `o=${o.channelId} 0 0 IN IP4 ${o.ip}`,
    `s=${o.offer.sessionName}`,
    `c=IN IP4 ${o.ip}`,
    `t=${o.offer.start} ${o.offer.end}`,
    `m=video ${o.port} ${tcp ? 'TCP/RTP/AVP' : 'RTP/AVP'} 96`,
    'a=sendonly',
    'a=rtpmap:96 PS/90000',
  ];
  // The device takes the opposite role of the platform's a=setup.
  if (tcp) lines.push(`a=setup:${o.offer.transport === 'tcp-passive' ? 'active' : 'passive'}`, 'a=connection:new');
  lines.push(`y=${o.ssrc}`, 'f=');
  return lines.join('\r\n') + '\r\n';
}
