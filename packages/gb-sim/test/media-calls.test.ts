import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SipServer } from '@gb28181/sip-core';
import { ensureFixture } from '../../media/test/support/fixtures.ts';
import { createMediaCalls, createSimulator, type Simulator } from '../src/index.ts';
import { SERVER_ID, startServer, waitFor } from './support/server.ts';

const run = promisify(execFile);
let fixture = '';

before(async () => {
  fixture = await ensureFixture({ codec: 'h264', seconds: 2, fps: 25, gop: 25, width: 320, height: 240 });
});

interface RtpCapture { packets: Buffer[]; lastAt: number }

/** RTP payloads in arrival order as one PS stream, probed by ffprobe. */
async function probePs(packets: Buffer[]): Promise<{ codec: string; frames: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'gb-sim-media-'));
  try {
    const file = join(dir, 'capture.ps');
    writeFileSync(file, Buffer.concat(packets.map((p) => p.subarray(12 + 4 * (p[0]! & 0x0f)))));
    const { stdout } = await run('ffprobe', ['-v', 'error', '-f', 'mpeg', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,nb_read_frames', '-of', 'csv=p=0', file]);
    const [codec, frames] = stdout.trim().split(',');
    return { codec: codec ?? '', frames: Number(frames) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Splits an RFC 4571 byte stream into RTP packets. */
function rfc4571Reader(into: RtpCapture): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      into.packets.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      into.lastAt = Date.now();
      buf = buf.subarray(2 + buf.readUInt16BE(0));
    }
  };
}

async function withDevice(fn: (server: SipServer, sim: Simulator, channelId: string) => Promise<void>, media = { file: '', codec: 'h264' as 'h264' | 'h265' }): Promise<void> {
  const server = await startServer({ passwords: () => 'pw' });
  const sim = await createSimulator({
    server: { host: '127.0.0.1', port: server.port }, serverId: SERVER_ID, password: 'pw',
    calls: (s) => createMediaCalls(s, { file: media.file || fixture, codec: media.codec }),
  });
  try {
    await sim.start();
    await fn(server, sim, sim.devices[0]!.channels[0]!.channelId);
  } finally {
    await sim.close();
    await server.close();
  }
}

test('a live INVITE over UDP is answered with the y= SSRC and streams GB PS that ffprobe decodes, until BYE', async () => {
  await withDevice(async (server, sim, channelId) => {
    const cap: RtpCapture = { packets: [], lastAt: 0 };
    const sock = dgram.createSocket('udp4');
    sock.on('message', (m) => { cap.packets.push(m); cap.lastAt = Date.now(); });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    try {
      const dialog = await server.invite({
        deviceId: sim.devices[0]!.deviceId, channelId, kind: 'Play', ssrc: '0340200001', mediaIp: '127.0.0.1', mediaPort: sock.address().port, transport: 'udp',
      });
      assert.equal(dialog.answer.ssrc, '0340200001');
      assert.equal(dialog.answer.transport, 'udp');
      await waitFor(() => cap.packets.length > 0, 5000, 'first RTP packet');
      await new Promise((r) => setTimeout(r, 1200));
      await dialog.bye();
      const stoppedAt = Date.now();
      await new Promise((r) => setTimeout(r, 400));
      assert.ok(cap.lastAt < stoppedAt + 200, 'no media after BYE');
      assert.ok(cap.packets.every((p) => p.readUInt32BE(8) === 340200001 && (p[1]! & 0x7f) === 96), 'SSRC and PT 96 on every packet');
      const probe = await probePs(cap.packets);
      assert.equal(probe.codec, 'h264');
      assert.ok(probe.frames >= 20, `frames ${probe.frames}`);
    } finally {
      sock.close();
    }
  });
});

test('a Playback over TCP passive sends the file once, then MediaStatus 121 in the dialog, and keeps the dialog until BYE', async () => {
  await withDevice(async (server, sim, channelId) => {
    const cap: RtpCapture = { packets: [], lastAt: 0 };
    const srv = net.createServer((s) => s.on('data', rfc4571Reader(cap)));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const ended = new Promise<{ notifyType: string; callId?: string }>((r) => server.on('mediaStatus', r));
    try {
      const now = Math.floor(Date.now() / 1000);
      const dialog = await server.invite({
        deviceId: sim.devices[0]!.deviceId, channelId, kind: 'Playback', ssrc: '1340200002', start: now - 3600, end: now - 3000,
        mediaIp: '127.0.0.1', mediaPort: (srv.address() as net.AddressInfo).port, transport: 'tcp-passive',
      });
      assert.equal(dialog.answer.transport, 'tcp');
      assert.equal(dialog.answer.setup, 'active');
      const status = await ended;
      assert.equal(status.notifyType, '121');
      assert.equal(status.callId, dialog.state.callId);
      const probe = await probePs(cap.packets);
      assert.equal(probe.codec, 'h264');
      assert.ok(probe.frames >= 48 && probe.frames <= 50, `the 50-frame file once, got ${probe.frames}`);
      await dialog.bye();
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});

test('a live INVITE with TCP active listens on the answered port and streams once the platform connects', async () => {
  await withDevice(async (server, sim, channelId) => {
    const dialog = await server.invite({
      deviceId: sim.devices[0]!.deviceId, channelId, kind: 'Play', ssrc: '0340200003', mediaIp: '127.0.0.1', mediaPort: 9, transport: 'tcp-active',
    });
    assert.equal(dialog.answer.setup, 'passive');
    const cap: RtpCapture = { packets: [], lastAt: 0 };
    const sock = net.connect({ host: dialog.answer.ip, port: dialog.answer.port });
    sock.on('data', rfc4571Reader(cap));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      await dialog.bye();
      const probe = await probePs(cap.packets);
      assert.equal(probe.codec, 'h264');
      assert.ok(probe.frames >= 25, `frames ${probe.frames}`);
    } finally {
      sock.destroy();
    }
  });
});

test('a Download at downloadspeed 4 sends the whole file over UDP four times faster than real time, then MediaStatus 121', async () => {
  await withDevice(async (server, sim, channelId) => {
    const cap: RtpCapture = { packets: [], lastAt: 0 };
    const sock = dgram.createSocket('udp4');
    sock.on('message', (m) => { cap.packets.push(m); cap.lastAt = Date.now(); });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const ended = new Promise<{ notifyType: string }>((r) => server.on('mediaStatus', r));
    try {
      const now = Math.floor(Date.now() / 1000);
      const t0 = Date.now();
      const dialog = await server.invite({
        deviceId: sim.devices[0]!.deviceId, channelId, kind: 'Download', ssrc: '1340200004', start: now - 600, end: now - 300, downloadSpeed: 4,
        mediaIp: '127.0.0.1', mediaPort: sock.address().port, transport: 'udp',
      });
      assert.equal((await ended).notifyType, '121');
      const elapsed = Date.now() - t0;
      assert.ok(elapsed < 1500, `2 s of media at 4x took ${elapsed} ms`);
      const probe = await probePs(cap.packets);
      assert.ok(probe.frames >= 48, `frames ${probe.frames}`);
      await dialog.bye();
    } finally {
      sock.close();
    }
  });
});

test('an H.265 channel streams PS that ffprobe reads as hevc', async () => {
  const file = await ensureFixture({ codec: 'h265', seconds: 1, fps: 25, gop: 25, width: 320, height: 240 });
  await withDevice(async (server, sim, channelId) => {
    const cap: RtpCapture = { packets: [], lastAt: 0 };
    const sock = dgram.createSocket('udp4');
    sock.on('message', (m) => { cap.packets.push(m); cap.lastAt = Date.now(); });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    try {
      const now = Math.floor(Date.now() / 1000);
      const ended = new Promise((r) => server.on('mediaStatus', r));
      const dialog = await server.invite({
        deviceId: sim.devices[0]!.deviceId, channelId, kind: 'Playback', ssrc: '1340200005', start: now - 60, end: now,
        mediaIp: '127.0.0.1', mediaPort: sock.address().port, transport: 'udp',
      });
      await ended;
      const probe = await probePs(cap.packets);
      assert.equal(probe.codec, 'hevc');
      assert.ok(probe.frames >= 24, `frames ${probe.frames}`);
      await dialog.bye();
    } finally {
      sock.close();
    }
  }, { file, codec: 'h265' });
});
