// Runs SIPp (Debian package sip-tester) as a child process: for interop tests and as the load
// driver and reference of the registration benchmark. SIPp writes its logs into its working
// directory, so every run gets a fresh temporary one.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import net from 'node:net';

export const SIPP_PATH = process.env.SIPP ?? '/usr/bin/sipp';

export function sippAvailable(): boolean {
  return existsSync(SIPP_PATH);
}

export interface SippRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Working directory holding SIPp's logs and trace files. */
  dir: string;
}

export interface SippProcess {
  readonly pid: number | undefined;
  readonly dir: string;
  done: Promise<SippRun>;
  kill(): void;
}

/** Starts sipp with `args` (-nostdin is added); the promise settles when it exits. */
export function startSipp(args: string[], o: { timeoutMs?: number; dir?: string } = {}): SippProcess {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'gb-sipp-'));
  const child = spawn(SIPP_PATH, [...args, '-nostdin'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('latin1').on('data', (d: string) => { stdout = (stdout + d).slice(-200_000); });
  child.stderr.setEncoding('latin1').on('data', (d: string) => { stderr = (stderr + d).slice(-200_000); });
  const timer = o.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), o.timeoutMs) : undefined;
  const done = new Promise<SippRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr, dir });
    });
  });
  return { pid: child.pid, dir, done, kill: () => child.kill('SIGTERM') };
}

/** A port free for both UDP and TCP on `host` right now (SIPp itself defaults to 5060). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const srv = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, host, () => resolve((srv.address() as net.AddressInfo).port));
    });
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, host, () => resolve(true));
    });
    await new Promise<void>((r) => srv.close(() => r()));
    if (ok) {
      await new Promise<void>((r) => udp.close(() => r()));
      return port;
    }
    udp.close();
  }
  throw new Error('no free UDP+TCP port found');
}
