// Reading what a viewer would get: a live FLV/HLS URL downloaded for a while, then counted by an
// independent reader (ffprobe; node-av for H.265 in FLV, which Debian's ffprobe 5.1 misreads).
import { createWriteStream, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';

/** Downloads a live HTTP body for `ms` (or until it ends) into `file`; resolves to the bytes written. */
export async function download(url: string, file: string, ms: number): Promise<number> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const out = createWriteStream(file);
  let bytes = 0;
  try {
    const res = await fetch(url, { signal: ac.signal });
    if (!res.ok || !res.body) throw new Error(`GET ${url}: ${res.status}`);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      out.write(chunk);
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    await new Promise<void>((r) => out.end(() => r()));
  }
  return bytes;
}

/**
 * Fetches a live HLS playlist and every segment it lists into one MPEG-TS file (ffprobe would
 * follow a live playlist forever). Resolves to the number of segments.
 */
export async function downloadHls(playlistUrl: string, file: string): Promise<number> {
  const res = await fetch(playlistUrl);
  if (!res.ok) throw new Error(`GET ${playlistUrl}: ${res.status}`);
  const text = await res.text();
  if (!text.startsWith('#EXTM3U')) throw new Error(`not a playlist: ${text.slice(0, 80)}`);
  const uris = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const parts: Buffer[] = [];
  for (const uri of uris) {
    const seg = await fetch(new URL(uri, playlistUrl));
    if (!seg.ok) throw new Error(`GET ${uri}: ${seg.status}`);
    parts.push(Buffer.from(await seg.arrayBuffer()));
  }
  writeFileSync(file, Buffer.concat(parts));
  return uris.length;
}

/** ffprobe -count_frames: codec and number of video frames read from a file or URL. */
export async function ffprobeFrames(target: string, timeoutMs = 60_000): Promise<{ codec: string; frames: number; raw: string }> {
  const args = ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=codec_name,nb_read_frames', '-of', 'csv=p=0', target];
  const p = spawn('ffprobe', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let raw = '';
  p.stdout.on('data', (d: Buffer) => (raw += d.toString()));
  p.stderr.on('data', (d: Buffer) => (raw += d.toString()));
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  await new Promise((r) => p.once('close', r));
  clearTimeout(timer);
  const line = raw.split('\n').map((l) => l.trim()).find((l) => /^\w+,\d+/.test(l)) ?? '';
  const [codec = '', n = '0'] = line.split(',');
  return { codec, frames: Number(n) || 0, raw };
}

/** node-av (FFmpeg 8 libraries): codec id name and video packet count of a file. */
export async function nodeAvVideoPackets(file: string): Promise<{ codecId: number; packets: number; width: number }> {
  const { FormatContext, Packet } = await import('node-av/lib');
  const { AVMEDIA_TYPE_VIDEO } = await import('node-av/constants');
  const ctx = new FormatContext();
  if ((await ctx.openInput(file)) < 0) throw new Error(`node-av cannot open ${file}`);
  try {
    await ctx.findStreamInfo();
    const idx = ctx.findBestStream(AVMEDIA_TYPE_VIDEO);
    if (idx < 0) return { codecId: 0, packets: 0, width: 0 };
    const stream = ctx.streams[idx]!;
    const pkt = new Packet();
    pkt.alloc();
    let packets = 0;
    while ((await ctx.readFrame(pkt)) >= 0) {
      if (pkt.streamIndex === idx) packets++;
      pkt.unref();
    }
    pkt.free();
    return { codecId: Number(stream.codecpar.codecId), packets, width: stream.codecpar.width };
  } finally {
    await ctx.closeInput();
  }
}
