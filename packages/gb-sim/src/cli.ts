// gb-sim command line: runs N simulated devices against a server until --duration or Ctrl-C.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createSimulator, type SimulatorStats } from './simulator.ts';
import { createMediaCalls } from './media-calls.ts';

const HELP = `gb-sim - GB28181 device simulator and load generator

Usage: gb-sim --server host:port --password secret [options]

  --server host:port      SIP server (UDP and TCP)                  [127.0.0.1:5060]
  --server-id id          platform id (domain = first 10 digits)    [34020000002000000001]
  --devices N             number of devices                         [1]
  --channels M            channels per device                       [1 ipc, 4 nvr]
  --kind ipc|nvr          device type                               [ipc]
  --nvrs K                mixed fleet: K of the devices are NVRs (--channels each), the rest IPCs
  --transport udp|tcp     signalling transport                      [udp]
  --password secret       digest password of every device           (required)
  --first-id id           id of the first device, others by serial  [<domain>1320000001]
  --id-prefix digits      13-digit head of the ids (alternative to --first-id)
  --keepalive-s S         keepalive interval                        [60]
  --expires S             registration validity                     [3600]
  --items-per-message K   Catalog/RecordInfo items per message      [4]
  --udp-sockets K         UDP sockets shared by the devices         [min(N,1000)]
  --concurrency K         REGISTERs in flight during start-up       [200]
  --gb2312                GB2312 bodies and names
  --one-item-per-message  one Catalog/RecordInfo item per message
  --lf-only               LF-only SIP header lines
  --status-in-info        keepalive Status inside <Info>
  --media-file path       Annex-B elementary stream to send on INVITE (enables media)
  --codec h264|h265       codec of --media-file                     [h264]
  --fps N                 frame rate of --media-file                [25]
  --duration S            stop (and unregister) after S seconds     [run until Ctrl-C]
  --local-ip ip           address for Via/Contact/SDP               [auto]
  --log-level level       pino level on stderr                      [warn]
  -h, --help              this text
`;

function fail(msg: string): never {
  process.stderr.write(`gb-sim: ${msg}\n\n${HELP}`);
  process.exit(2);
}

function int(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a non-negative integer, got ${v}`);
  return n;
}

function progressLine(s: SimulatorStats, t0: number): string {
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  return `[${secs}s] registered ${s.registered}/${s.devices} fail ${s.registerFailures} ` +
    `p50 ${s.registerLatencyMs.p50.toFixed(1)}ms p99 ${s.registerLatencyMs.p99.toFixed(1)}ms ` +
    `keepalive ${s.keepalivesOk}/${s.keepalivesSent} queries ${s.queriesAnswered} inflight ${s.pendingTransactions}`;
}

export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        server: { type: 'string', default: '127.0.0.1:5060' },
        'server-id': { type: 'string', default: '34020000002000000001' },
        devices: { type: 'string' }, channels: { type: 'string' },
        kind: { type: 'string', default: 'ipc' }, nvrs: { type: 'string' }, transport: { type: 'string', default: 'udp' },
        password: { type: 'string' }, 'first-id': { type: 'string' }, 'id-prefix': { type: 'string' },
        'keepalive-s': { type: 'string' }, expires: { type: 'string' }, 'items-per-message': { type: 'string' },
        'udp-sockets': { type: 'string' }, concurrency: { type: 'string' },
        gb2312: { type: 'boolean' }, 'one-item-per-message': { type: 'boolean' }, 'lf-only': { type: 'boolean' }, 'status-in-info': { type: 'boolean' },
        'media-file': { type: 'string' }, codec: { type: 'string', default: 'h264' }, fps: { type: 'string' },
        duration: { type: 'string' }, 'local-ip': { type: 'string' }, 'log-level': { type: 'string', default: 'warn' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const m = /^([^:]+):(\d+)$/.exec(values.server);
  if (!m) fail(`--server must be host:port, got ${values.server}`);
  if (!values.password) fail('--password is required');
  if (values.kind !== 'ipc' && values.kind !== 'nvr') fail(`--kind must be ipc or nvr`);
  if (values.transport !== 'udp' && values.transport !== 'tcp') fail(`--transport must be udp or tcp`);
  if (values.codec !== 'h264' && values.codec !== 'h265') fail(`--codec must be h264 or h265`);
  if (!/^\d{20}$/.test(values['server-id'])) fail('--server-id must be 20 digits');
  let firstId = values['first-id'];
  if (values['id-prefix'] !== undefined) {
    if (!/^\d{13}$/.test(values['id-prefix'])) fail('--id-prefix must be 13 digits (centre 8, industry 2, type 3)');
    firstId = `${values['id-prefix']}0000001`;
  }
  if (firstId !== undefined && !/^\d{20}$/.test(firstId)) fail('--first-id must be 20 digits');
  const kind = values.kind;
  const logger = pino({ level: values['log-level'] }, pino.destination(2));
  const mediaFile = values['media-file'];
  const codec = values.codec;
  const fps = int(values.fps, 'fps', 25);

  const sim = await createSimulator({
    server: { host: m[1]!, port: Number(m[2]) },
    serverId: values['server-id'],
    devices: int(values.devices, 'devices', 1),
    channels: values.channels === undefined ? undefined : int(values.channels, 'channels', 1),
    kind, nvrs: values.nvrs === undefined ? undefined : int(values.nvrs, 'nvrs', 0), transport: values.transport, password: values.password, firstId,
    keepaliveS: int(values['keepalive-s'], 'keepalive-s', 60),
    expiresS: int(values.expires, 'expires', 3600),
    itemsPerMessage: int(values['items-per-message'], 'items-per-message', 4),
    udpSockets: values['udp-sockets'] === undefined ? undefined : int(values['udp-sockets'], 'udp-sockets', 1000),
    registerConcurrency: int(values.concurrency, 'concurrency', 200),
    quirks: { gb2312: values.gb2312, oneItemPerMessage: values['one-item-per-message'], lfOnly: values['lf-only'], statusInInfo: values['status-in-info'] },
    localHost: values['local-ip'],
    calls: mediaFile ? (s) => createMediaCalls(s, { file: mediaFile, codec, fps }) : undefined,
    logger,
  });

  const t0 = Date.now();
  const tty = process.stderr.isTTY;
  const show = (s: SimulatorStats) => process.stderr.write(tty ? `\r${progressLine(s, t0)}\x1b[K` : `${progressLine(s, t0)}\n`);
  sim.on('progress', show);
  sim.on('deviceFailed', (f) => logger.warn(f, 'device failed to register'));

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await sim.close({ unregister: true });
    show(sim.stats());
    process.stderr.write('\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  const started = await sim.start({ progressMs: 1000 });
  show(started);
  process.stderr.write('\n');
  const duration = values.duration === undefined ? undefined : int(values.duration, 'duration', 0);
  if (duration !== undefined) setTimeout(() => void stop(started.registerFailures > 0 ? 1 : 0), duration * 1000);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`gb-sim: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
