// Registration benchmark (not a timed test).
//   node --import tsx bench/sip-register.ts [--devices 10000] [--rate 20000] [--limit 200] [--store gateway|typeorm-qb|sqlite-raw|memory]
//     N distinct devices register with digest (REGISTER, 401, REGISTER, 200), driven by SIPp,
//     against our server (child process, credentials in SQLite); then the same SIPp run against
//     SIPp's own UAS (401 then 200, no checks) as the harness reference. Prints one line (and, on
//     stderr, the server's CPU per registration). Environment: BENCH_REGISTRY=1 attaches the gateway's
//     device registry (devices-table writes, DeviceInfo on online); BENCH_CPU_PROF=<file> writes a V8
//     profile of the server over the measured window.
//   node --import tsx bench/sip-register.ts --driver gb-sim [--devices 10000]
//     the same registration run driven by gb-sim in this process (no reference run).
//   node --import tsx bench/sip-register.ts --hold 20000 [--seconds 120]
//     gb-sim registers that many devices and keeps them alive with 60 s keepalives; prints the
//     server's RSS and CPU over the window.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createSimulator, freePort, sippAvailable, startSipp, type SippRun } from '@gb28181/gb-sim';
import { benchDeviceIds, benchPassword, DOMAIN, SERVER_ID } from './sip-bench-ids.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '20000' },
    limit: { type: 'string', default: '200' },
    hold: { type: 'string' },
    seconds: { type: 'string', default: '120' },
    transport: { type: 'string', default: 'u1' },
    store: { type: 'string', default: 'gateway' },
    driver: { type: 'string', default: 'sipp' },
  },
});

interface ServerStats { rss: number; cpuUserUs: number; cpuSystemUs: number; registered: number; online: number }

class ServerChild {
  private constructor(private readonly child: ChildProcess, readonly port: number) {}

  static async start(devices: number): Promise<ServerChild> {
    const child = fork(join(here, 'sip-register-server.ts'), [], {
      execArgv: ['--import', 'tsx'], env: { ...process.env, BENCH_DEVICES: String(devices), BENCH_STORE: values.store }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
      child.on('message', (m: { type: string; port?: number }) => {
        if (m.type === 'ready') resolve(m.port!);
      });
    });
    return new ServerChild(child, port);
  }

  stats(): Promise<ServerStats> {
    return new Promise((resolve) => {
      const on = (m: { type: string } & ServerStats) => {
        if (m.type !== 'stats') return;
        this.child.off('message', on);
        resolve(m);
      };
      this.child.on('message', on);
      this.child.send({ type: 'stats' });
    });
  }

  /** With BENCH_CPU_PROF=<file>, profiles the server between these two calls. */
  profile(what: 'start' | 'stop'): Promise<void> {
    if (!process.env.BENCH_CPU_PROF) return Promise.resolve();
    this.child.send({ type: `profile-${what}` });
    if (what === 'start') return new Promise((r) => setTimeout(r, 100));
    return new Promise((resolve) => {
      const on = (m: { type: string }) => {
        if (m.type !== 'profile-written') return;
        this.child.off('message', on);
        resolve();
      };
      this.child.on('message', on);
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send({ type: 'stop' });
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}

interface SippFigures { ok: number; failed: number; regPerS: number; p50: number; p99: number; wallS: number }

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Successful/failed calls from SIPp's final screen; latencies from its -trace_rtt file. */
function readSippRun(run: SippRun, wallS: number): SippFigures {
  const cumulative = (label: string) => Number(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(run.stdout)?.[1] ?? NaN);
  const rttFile = readdirSync(run.dir).find((f) => f.endsWith('_rtt.csv'));
  const rtts: number[] = [];
  let lastMs = 0; // Date_ms: ms since SIPp started, so process start-up is not counted
  if (rttFile) {
    for (const line of readFileSync(join(run.dir, rttFile), 'latin1').split('\n').slice(1)) {
      const [at, rt] = line.split(';').map(Number);
      if (line.trim() && Number.isFinite(rt)) {
        rtts.push(rt!);
        lastMs = Math.max(lastMs, at!);
      }
    }
  }
  rtts.sort((a, b) => a - b);
  const ok = cumulative('Successful call');
  const spanS = lastMs > 0 ? lastMs / 1000 : wallS;
  return { ok, failed: cumulative('Failed call'), regPerS: ok / spanS, p50: percentile(rtts, 50), p99: percentile(rtts, 99), wallS };
}

async function sippRegister(targetPort: number, csv: string, devices: number): Promise<SippFigures> {
  const port = await freePort();
  const t0 = performance.now();
  const run = await startSipp([
    `127.0.0.1:${targetPort}`, '-sf', join(here, 'sip-register-uac.xml'), '-inf', csv, '-i', '127.0.0.1', '-p', String(port),
    '-t', values.transport, '-m', String(devices), '-r', values.rate, '-rp', '1000', '-l', values.limit,
    '-buff_size', '4194304', '-trace_rtt', '-rtt_freq', '100', '-timeout', '600s', '-timeout_error',
  ], { timeoutMs: 900_000 }).done;
  const wallS = (performance.now() - t0) / 1000;
  const figures = readSippRun(run, wallS);
  // SIPp's final message table (counts, retransmissions, timeouts) tells loss from slowness.
  const table = run.stdout.slice(run.stdout.lastIndexOf('Messages  Retrans')).split('\n').filter((l) => /-->|<--/.test(l)).slice(0, 4);
  process.stderr.write(`sipp against :${targetPort}\n${table.join('\n')}\n`);
  if (run.code !== 0) process.stderr.write(`sipp exited ${run.code}: ${run.stdout.slice(-1500)}\n`);
  rmSync(run.dir, { recursive: true, force: true });
  return figures;
}

const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

async function registerBench(devices: number): Promise<void> {
  if (!sippAvailable()) throw new Error('sipp (Debian package sip-tester) is required for the register benchmark');
  const dir = mkdtempSync(join(tmpdir(), 'gb-bench-'));
  const csv = join(dir, 'devices.csv');
  writeFileSync(csv, 'SEQUENTIAL\n' + benchDeviceIds(devices).map((id) =>
    `${id};[authentication username=${id} password=${benchPassword(id)}];${SERVER_ID};${DOMAIN}`).join('\n') + '\n');

  const server = await ServerChild.start(devices);
  let ours: SippFigures;
  let stats: ServerStats;
  let cpuPct: number;
  let cpuUsPerReg: number;
  try {
    await server.profile('start');
    const before = await server.stats();
    const t0 = performance.now();
    ours = await sippRegister(server.port, csv, devices);
    stats = await server.stats();
    await server.profile('stop');
    const cpuUs = stats.cpuUserUs + stats.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs;
    cpuPct = (cpuUs / ((performance.now() - t0) * 1000)) * 100;
    // Server CPU per completed registration: far steadier than reg/s on a shared machine.
    cpuUsPerReg = cpuUs / devices;
    process.stderr.write(`server cpu user=${fmt((stats.cpuUserUs - before.cpuUserUs) / 1e6, 2)}s sys=${fmt((stats.cpuSystemUs - before.cpuSystemUs) / 1e6, 2)}s\n`);
  } finally {
    await server.stop();
  }

  const refPort = await freePort();
  const uas = startSipp(['-sf', join(here, 'sip-register-uas-reference.xml'), '-i', '127.0.0.1', '-p', String(refPort), '-t', values.transport, '-m', String(devices), '-buff_size', '4194304'], { timeoutMs: 900_000 });
  await new Promise((r) => setTimeout(r, 300));
  const ref = await sippRegister(refPort, csv, devices);
  uas.kill();
  const uasRun = await uas.done;
  rmSync(uasRun.dir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });

  process.stderr.write(`server: ${stats.registered} devices registered in its table, rss=${fmt(stats.rss / 2 ** 20)}MB, cpu=${fmt(cpuPct)}% of a core during the run (${fmt(cpuUsPerReg, 0)} µs CPU per registration); sipp wall ours=${fmt(ours.wallS, 2)}s ref=${fmt(ref.wallS, 2)}s; ` +
    `reg/s counts completed registrations, each two REGISTER requests (401 round trip): ours ${fmt(ours.regPerS * 2, 0)} REGISTER requests/s\n`);
  console.log(
    `sip-register devices=${devices} store=${values.store} ours: reg/s=${fmt(ours.regPerS, 0)} p50=${fmt(ours.p50)}ms p99=${fmt(ours.p99)}ms ` +
    `fail=${devices - (Number.isFinite(ours.ok) ? ours.ok : 0)} rss=${fmt(stats.rss / 2 ** 20, 0)}MB | ` +
    `sipp-uas reference: reg/s=${fmt(ref.regPerS, 0)} p50=${fmt(ref.p50)}ms p99=${fmt(ref.p99)}ms | ratio=${fmt(ours.regPerS / ref.regPerS, 2)}`,
  );
}

async function holdBench(devices: number, seconds: number): Promise<void> {
  const server = await ServerChild.start(devices);
  const sim = await createSimulator({
    server: { host: '127.0.0.1', port: server.port }, serverId: SERVER_ID, devices, password: '', passwordFor: benchPassword,
    firstId: benchDeviceIds(1)[0], keepaliveS: 60, expiresS: 3600, udpSockets: 200, registerConcurrency: Number(values.limit),
  });
  try {
    const t0 = performance.now();
    const started = await sim.start();
    const regS = (performance.now() - t0) / 1000;
    process.stderr.write(`hold: ${started.registered}/${devices} registered in ${fmt(regS, 1)}s (fail ${started.registerFailures}); holding ${seconds}s\n`);
    const before = await server.stats();
    const w0 = performance.now();
    const driverCpu0 = process.cpuUsage();
    let peakRss = before.rss;
    for (let left = seconds; left > 0; left -= 10) {
      await new Promise((r) => setTimeout(r, Math.min(10, left) * 1000));
      const s = await server.stats();
      peakRss = Math.max(peakRss, s.rss);
      const st = sim.stats();
      process.stderr.write(`  t=${fmt((performance.now() - w0) / 1000, 0)}s server online=${s.online} rss=${fmt(s.rss / 2 ** 20, 0)}MB keepalive ok ${st.keepalivesOk}/${st.keepalivesSent}\n`);
    }
    const after = await server.stats();
    const wallUs = (performance.now() - w0) * 1000;
    const cpuPct = ((after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / wallUs) * 100;
    const driver = process.cpuUsage(driverCpu0);
    const st = sim.stats();
    console.log(
      `sip-hold devices=${devices} seconds=${seconds} keepalive=60s: online=${after.online} server rss=${fmt(after.rss / 2 ** 20, 0)}MB ` +
      `(peak ${fmt(peakRss / 2 ** 20, 0)}MB) cpu=${fmt(cpuPct)}% of one core | keepalives ok=${st.keepalivesOk}/${st.keepalivesSent} ` +
      `| driver cpu=${fmt(((driver.user + driver.system) / wallUs) * 100)}% | register phase ${fmt(regS, 1)}s`,
    );
  } finally {
    await sim.close();
    await server.stop();
  }
}

async function gbSimRegisterBench(devices: number): Promise<void> {
  const server = await ServerChild.start(devices);
  const sim = await createSimulator({
    server: { host: '127.0.0.1', port: server.port }, serverId: SERVER_ID, devices, password: '', passwordFor: benchPassword,
    firstId: benchDeviceIds(1)[0], keepaliveS: 3600, expiresS: 3600, udpSockets: 200, registerConcurrency: Number(values.limit),
  });
  try {
    const before = await server.stats();
    const t0 = performance.now();
    const driverCpu0 = process.cpuUsage();
    const st = await sim.start();
    const wallS = (performance.now() - t0) / 1000;
    const driver = process.cpuUsage(driverCpu0);
    const after = await server.stats();
    const cpuPct = ((after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / (wallS * 1e6)) * 100;
    console.log(
      `sip-register devices=${devices} store=${values.store} driver=gb-sim ours: reg/s=${fmt(st.registered / wallS, 0)} ` +
      `p50=${fmt(st.registerLatencyMs.p50)}ms p99=${fmt(st.registerLatencyMs.p99)}ms fail=${st.registerFailures} rss=${fmt(after.rss / 2 ** 20, 0)}MB server-cpu=${fmt(cpuPct)}% driver-cpu=${fmt(((driver.user + driver.system) / (wallS * 1e6)) * 100)}%`,
    );
  } finally {
    await sim.close();
    await server.stop();
  }
}

if (values.hold !== undefined) await holdBench(Number(values.hold), Number(values.seconds));
else if (values.driver === 'gb-sim') await gbSimRegisterBench(Number(values.devices));
else await registerBench(Number(values.devices));
