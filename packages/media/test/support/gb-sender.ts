import dgram from 'node:dgram';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import type { AccessUnit } from '../../src/access-unit.ts';
import { splitAnnexBAccessUnits } from '../../src/annexb.ts';
import { splitAdtsFrames } from '../../src/adts.ts';
import { PsMuxer } from '../../src/ps-muxer.ts';
import { RtpPacketizer, frameRfc4571 } from '../../src/rtp-packetizer.ts';
import { ensureAacFixture, ensureFixture } from './fixtures.ts';

/** Fixture access units: 10 s, 25 fps, GOP 50, 640x360, optionally with the AAC tone interleaved by dts. */
export async function fixtureUnits(codec: 'h264' | 'h265', withAac = false): Promise<AccessUnit[]> {
  const es = await readFile(await ensureFixture({ codec, seconds: 10, fps: 25, gop: 50 }));
  const video = splitAnnexBAccessUnits(es, codec, 25);
  if (!withAac) return video;
  const audio: AccessUnit[] = splitAdtsFrames(await readFile(await ensureAacFixture({ seconds: 10 }))).map((data, i) => {
    const ts = Math.round((i * 1024 * 90000) / 44100);
    return { kind: 'audio', codec: 'aac', data, pts: ts, dts: ts, key: true };
  });
  return [...video, ...audio].sort((a, b) => a.dts - b.dts || (a.kind === 'video' ? -1 : 1));
}

/** What a GB device sends: each unit muxed into a GB-shaped PS pack, cut into RTP (PT 96). */
export function gbRtpPackets(units: AccessUnit[], ssrc = 0x1234): Buffer[] {
  const ps = new PsMuxer();
  const rtp = new RtpPacketizer({ ssrc, maxPayload: 1400, initialSeq: 65000 });
  const out: Buffer[] = [];
  for (const au of units) out.push(...rtp.packetize(ps.mux(au), au.dts));
  return out;
}

/** Swaps neighbours every `every` packets: the receiver's reorder window must put them back. */
export function reorder(packets: Buffer[], every: number): Buffer[] {
  const out = [...packets];
  for (let i = every; i + 1 < out.length; i += every) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  return out;
}

/** Sends over UDP in bursts (faster than real time, but never faster than the socket drains). */
export async function sendUdp(packets: Buffer[], port: number, burst = 64): Promise<void> {
  const sock = dgram.createSocket('udp4');
  try {
    for (let i = 0; i < packets.length; i += burst) {
      await Promise.all(
        packets.slice(i, i + burst).map((p) => new Promise<void>((res, rej) => sock.send(p, port, '127.0.0.1', (e) => (e ? rej(e) : res())))),
      );
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    sock.close();
  }
}

/** Sends RFC 4571-framed over one TCP connection to the receiver (tcp-passive), then closes it. */
export async function sendTcp(packets: Buffer[], port: number): Promise<void> {
  const sock = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
  for (const p of packets) {
    if (!sock.write(frameRfc4571(p))) await new Promise((r) => sock.once('drain', r));
  }
  await new Promise<void>((res) => sock.end(res));
}
