// The simulator: N devices with M channels each against one server, sharing a bounded number of
// UDP sockets (requests are routed to a device by the user part of the Request-URI/To, responses
// by Via branch), or one TCP connection per device.
import os from 'node:os';
import pino, { type Logger } from 'pino';
import { ClientTransactions, type SipTimers } from './client-transactions.ts';
import { ServerTransactions } from './server-transactions.ts';
import type { CatalogChannel } from './manscdp.ts';
import type { LinkMessageHandler, PeerAddress, SimLink } from './sim-link.ts';
import { makeSipResponse, parseSipUri, serializeSipMessage, type SipMessage } from './sip-codec.ts';
import { SimulatedDevice, type CallHandler, type DeviceQuirks } from './simulated-device.ts';
import { TcpLink } from './transport-tcp.ts';
import { UdpLink } from './transport-udp.ts';
import { TypedEmitter } from '@gb28181/common';

export interface SimulatorOptions {
  server: PeerAddress;
  /** Platform id; the SIP domain is its first 10 digits. Default 34020000002000000001. */
  serverId?: string;
  /** Number of devices; default 1. */
  devices?: number;
  /** Channels per device; default 1 for an IPC, 4 for an NVR. */
  channels?: number;
  kind?: 'ipc' | 'nvr';
  /** Mixed fleet: this many of `devices` are NVRs (with `channels` each, default 4) and the rest
   *  single-channel IPCs, each kind numbered from serial 1 of its own type code. Overrides `kind`. */
  nvrs?: number;
  transport?: 'udp' | 'tcp';
  password: string;
  /** Per-device password; default `password` for every device. */
  passwordFor?: (deviceId: string) => string;
  /** Id of the first device; the others follow by serial. Default <domain>132|1180000001. */
  firstId?: string;
  keepaliveS?: number;
  expiresS?: number;
  itemsPerMessage?: number;
  quirks?: Partial<DeviceQuirks>;
  /** UDP sockets shared by the devices; default min(devices, 1000). */
  udpSockets?: number;
  /** Address written in Via/Contact; default 127.0.0.1 for a loopback server, else the first external IPv4. */
  localHost?: string;
  /** REGISTERs in flight at once during start(); default 200. */
  registerConcurrency?: number;
  /** Builds the INVITE/BYE handler (media); absent = INVITE answered 488. */
  calls?: (sim: Simulator) => CallHandler;
  timers?: Partial<SipTimers>;
  logger?: Logger;
}

export interface SimulatorStats {
  devices: number;
  registered: number;
  registerFailures: number;
  keepalivesSent: number;
  keepalivesOk: number;
  queriesAnswered: number;
  pendingTransactions: number;
  /** REGISTER latencies of start() (401 round trip included), ms. */
  registerLatencyMs: { p50: number; p99: number; max: number };
}

export type SimulatorEvents = {
  progress: [SimulatorStats];
  deviceRegistered: [SimulatedDevice];
  deviceFailed: [{ deviceId: string; error: string }];
};

export function deviceIdAt(firstId: string, index: number): string {
  // Only the last 7 digits (network + serial) move; the 13-digit head stays, so ids never leave the domain.
  const tail = (Number(firstId.slice(13)) + index) % 10_000_000;
  return firstId.slice(0, 13) + String(tail).padStart(7, '0');
}

/** Channel ids of type 131; the network digit separates NVR channels (1) from IPC ones (0). */
export function channelIdsFor(deviceId: string, count: number): string[] {
  const base = (Number(deviceId.slice(14)) - 1) * count;
  const net = deviceId.slice(10, 13) === '118' ? '1' : '0';
  return Array.from({ length: count }, (_, k) => `${deviceId.slice(0, 10)}131${net}${String((base + k + 1) % 1_000_000).padStart(6, '0')}`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function defaultLocalHost(serverHost: string): string {
  if (serverHost.startsWith('127.') || serverHost === 'localhost') return '127.0.0.1';
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export class Simulator extends TypedEmitter<SimulatorEvents> {
  readonly devices: SimulatedDevice[] = [];
  readonly logger: Logger;
  readonly serverId: string;
  readonly localHost: string;
  readonly #byId = new Map<string, SimulatedDevice>();
  readonly #links: SimLink[] = [];
  readonly #transactions: ClientTransactions;
  readonly #serverTransactions = new ServerTransactions();
  readonly #latencies: number[] = [];
  #registerFailures = 0;
  #queriesAnswered = 0;
  #calls?: CallHandler;
  #progressTimer?: NodeJS.Timeout;
  #closed = false;

  private constructor(private readonly o: SimulatorOptions) {
    super();
    this.logger = o.logger ?? pino({ level: 'silent' });
    this.emitterLogger = this.logger;
    this.serverId = o.serverId ?? '34020000002000000001';
    this.localHost = o.localHost ?? defaultLocalHost(o.server.host);
    this.#transactions = new ClientTransactions(o.timers);
  }

  static async create(o: SimulatorOptions): Promise<Simulator> {
    const sim = new Simulator(o);
    try {
      await sim.#build();
    } catch (err) {
      await sim.close();
      throw err;
    }
    return sim;
  }

  async #build(): Promise<void> {
    const o = this.o;
    const count = o.devices ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new TypeError(`devices must be a positive integer: ${count}`);
    if (o.nvrs !== undefined && (!Number.isInteger(o.nvrs) || o.nvrs < 0 || o.nvrs > count)) throw new TypeError(`nvrs must be 0..devices: ${o.nvrs}`);
    const nvrs = o.nvrs ?? ((o.kind ?? 'ipc') === 'nvr' ? count : 0);
    const mixed = o.nvrs !== undefined;
    const firstId = o.firstId ?? `${this.serverId.slice(0, 10)}${nvrs === count ? '118' : '132'}0000001`;
    if (!/^\d{20}$/.test(firstId)) throw new TypeError(`firstId must be 20 digits: ${firstId}`);
    this.#calls = o.calls?.(this);
    const onMessage: LinkMessageHandler = (m, link, from) => this.#onMessage(m, link, from);
    const transport = o.transport ?? 'udp';
    const udpCount = Math.max(1, Math.min(count, o.udpSockets ?? 1000));
    if (transport === 'udp') {
      for (let i = 0; i < udpCount; i++) {
        this.#links.push(await UdpLink.open({ bindHost: '0.0.0.0', localHost: this.localHost, server: o.server, onMessage, logger: this.logger }));
      }
    }
    for (let i = 0; i < count; i++) {
      const kind: 'ipc' | 'nvr' = i < count - nvrs ? 'ipc' : 'nvr';
      // In a mixed fleet the NVRs take the 118 type code, numbered from 1 like the IPCs.
      const deviceId = mixed && kind === 'nvr'
        ? deviceIdAt(`${firstId.slice(0, 10)}118${firstId.slice(13)}`, i - (count - nvrs))
        : deviceIdAt(firstId, i);
      const channels = kind === 'nvr' ? (o.channels ?? 4) : mixed ? 1 : (o.channels ?? 1);
      const link = transport === 'udp'
        ? this.#links[i % udpCount]!
        : await TcpLink.open({ localHost: this.localHost, server: o.server, onMessage, logger: this.logger });
      if (transport === 'tcp') this.#links.push(link);
      const chans: CatalogChannel[] = channelIdsFor(deviceId, channels).map((channelId, k) => ({
        channelId,
        name: kind === 'nvr' ? `模拟通道${k + 1}-${deviceId.slice(-4)}` : `模拟摄像机-${deviceId.slice(-4)}`,
        status: 'ON',
        ptzType: ((k % 4) + 1) as 1 | 2 | 3 | 4,
        longitude: 120.1 + ((i * channels + k) % 1000) / 10_000,
        latitude: 30.2 + ((i * channels + k) % 1000) / 10_000,
      }));
      const device = new SimulatedDevice(
        {
          deviceId, kind, channels: chans, password: o.passwordFor?.(deviceId) ?? o.password, serverId: this.serverId, expiresS: o.expiresS, keepaliveS: o.keepaliveS,
          itemsPerMessage: o.itemsPerMessage, quirks: o.quirks,
        },
        { link, transactions: this.#transactions, serverTransactions: this.#serverTransactions, logger: this.logger, calls: this.#calls },
      );
      device.on('query', () => this.#queriesAnswered++);
      this.devices.push(device);
      this.#byId.set(deviceId, device);
      for (const c of chans) if (!this.#byId.has(c.channelId)) this.#byId.set(c.channelId, device);
    }
  }

  /** The device owning a device or channel id. */
  device(id: string): SimulatedDevice | undefined {
    return this.#byId.get(id);
  }

  #onMessage(m: SipMessage, link: SimLink, from: PeerAddress): void {
    // A message we cannot answer (no Via, Call-ID or CSeq) is dropped here; anything a handler
    // still throws is logged, never allowed to take the simulator's sockets down.
    if (!m.headers.via?.length || !m.headers['call-id'] || !m.headers.cseq) {
      this.logger.warn({ from: `${from.host}:${from.port}`, method: m.method, status: m.status }, 'dropped SIP message without Via, Call-ID or CSeq');
      return;
    }
    try {
      this.#dispatch(m, link, from);
    } catch (err) {
      this.logger.error({ err, method: m.method, status: m.status }, 'handling a SIP message failed');
    }
  }

  #dispatch(m: SipMessage, link: SimLink, from: PeerAddress): void {
    if (m.status !== undefined) {
      if (!this.#transactions.onResponse(m)) this.logger.debug({ status: m.status }, 'response matching no transaction dropped');
      return;
    }
    const earlier = this.#serverTransactions.seen(m);
    if (earlier) {
      if (earlier.response) link.send(earlier.response, from);
      return;
    }
    const user = parseSipUri(m.uri ?? '')?.user ?? parseSipUri(m.headers.to?.uri ?? '')?.user;
    const device = user ? this.#byId.get(user) : undefined;
    if (!device) {
      if (m.method !== 'ACK') link.send(serializeSipMessage(makeSipResponse(m, 404, 'Not Found')), from);
      this.logger.warn({ method: m.method, uri: m.uri }, 'request for an unknown device');
      return;
    }
    device.handleRequest(m, link, from);
  }

  /** Registers every device (bounded concurrency) and starts keepalives; resolves when all tried. */
  async start(o: { progressMs?: number } = {}): Promise<SimulatorStats> {
    if (o.progressMs) this.#progressTimer = setInterval(() => this.safeEmit('progress', this.stats()), o.progressMs);
    const concurrency = Math.max(1, this.o.registerConcurrency ?? 200);
    let next = 0;
    const worker = async () => {
      while (next < this.devices.length && !this.#closed) {
        const device = this.devices[next++]!;
        try {
          this.#latencies.push(await device.start());
          this.safeEmit('deviceRegistered', device);
        } catch (err) {
          this.#registerFailures++;
          this.safeEmit('deviceFailed', { deviceId: device.deviceId, error: (err as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, this.devices.length) }, worker));
    return this.stats();
  }

  stats(): SimulatorStats {
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    let registered = 0, keepalivesSent = 0, keepalivesOk = 0;
    for (const d of this.devices) {
      if (d.registered) registered++;
      keepalivesSent += d.keepalivesSent;
      keepalivesOk += d.keepalivesOk;
    }
    return {
      devices: this.devices.length, registered, registerFailures: this.#registerFailures, keepalivesSent, keepalivesOk,
      queriesAnswered: this.#queriesAnswered, pendingTransactions: this.#transactions.size,
      registerLatencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0 },
    };
  }

  /** Stops every device (optionally unregistering first) and closes the sockets. Idempotent. */
  async close(o: { unregister?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#progressTimer) clearInterval(this.#progressTimer);
    if (o.unregister) await Promise.allSettled(this.devices.map((d) => d.unregister()));
    await Promise.allSettled(this.devices.map((d) => d.close()));
    this.#transactions.close();
    this.#serverTransactions.close();
    await Promise.allSettled(this.#links.map((l) => l.close()));
  }
}

export function createSimulator(o: SimulatorOptions): Promise<Simulator> {
  return Simulator.create(o);
}
