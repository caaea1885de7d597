import { spawn } from 'node:child_process';

export interface ProbedStream {
  codec: string;
  width?: number;
  height?: number;
  frames: number;
}

/**
 * Independent reader of our outputs: ffprobe decodes the container (file, HTTP-FLV URL, HLS playlist, RTMP)
 * and counts the frames it read. A truncated stream still exits 0, so callers assert on `frames`.
 */
export function ffprobeStreams(input: string, extraArgs: string[] = []): Promise<ProbedStream[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      'ffprobe',
      [
        '-v', 'error', ...extraArgs, '-count_frames', '-show_entries', 'stream=codec_name,codec_type,width,height,nb_read_frames',
        '-of', 'json', input,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', () => {
      try {
        const json = JSON.parse(out) as {
          streams?: { codec_name?: string; width?: number; height?: number; nb_read_frames?: string }[];
        };
        resolve(
          (json.streams ?? []).map((s) => ({
            codec: s.codec_name ?? 'unknown',
            width: s.width,
            height: s.height,
            frames: Number(s.nb_read_frames ?? 0),
          })),
        );
      } catch {
        reject(new Error(`ffprobe ${input} printed no JSON: ${err}`));
      }
    });
  });
}

/**
 * Reads a file or URL with libavformat 8 (node-av): the oracle for H.265 in enhanced FLV,
 * which Debian's ffprobe 5.1 misreads. Counts demuxed packets per stream.
 */
export async function libavStreams(input: string): Promise<ProbedStream[]> {
  const av = await import('node-av');
  const ctx = new av.FormatContext();
  let ret = await ctx.openInput(input);
  av.FFmpegError.throwIfError(ret, 'openInput');
  try {
    ret = await ctx.findStreamInfo();
    av.FFmpegError.throwIfError(ret, 'findStreamInfo');
    const streams = ctx.streams.map((s) => ({
      codec: av.avGetCodecName(s.codecpar.codecId) ?? 'unknown',
      width: s.codecpar.width || undefined,
      height: s.codecpar.height || undefined,
      frames: 0,
    }));
    const packet = new av.Packet();
    packet.alloc();
    while ((await ctx.readFrame(packet)) >= 0) {
      const s = streams[packet.streamIndex];
      if (s) s.frames++;
      packet.unref();
    }
    packet.free();
    return streams;
  } finally {
    await ctx.closeInput();
  }
}
