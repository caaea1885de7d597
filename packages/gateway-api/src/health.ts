// The health model served at GET /health: one answer for operators and for the compose
// healthcheck. "degraded" (HTTP 503) when the database or the shared state does not answer, or a
// wired listener is not listening; components not wired yet are reported, not counted.

export interface SipHealth {
  udp: boolean;
  tcp: boolean;
  port: number;
  listening: boolean;
  /** false while no SIP server is wired into the platform */
  wired?: boolean;
  devices?: number;
}

export interface MediaHealth {
  http: number;
  rtmp: number;
  rtpPorts: string;
  listening: boolean;
  wired?: boolean;
  streams?: number;
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  db: { kind: 'sqlite' | 'mariadb' | 'mysql'; up: boolean };
  state: { kind: 'memory' | 'redis'; up: boolean };
  sip: SipHealth;
  media: MediaHealth;
  uptime_s: number;
}

export interface HealthSources {
  db: { kind: HealthReport['db']['kind']; check(): Promise<boolean> };
  state: { kind: HealthReport['state']['kind']; ping(): Promise<boolean> };
  sip: () => SipHealth;
  media: () => MediaHealth;
  startedAt: number;
}

export async function collectHealth(s: HealthSources): Promise<HealthReport> {
  const [dbUp, stateUp] = await Promise.all([s.db.check().catch(() => false), s.state.ping().catch(() => false)]);
  const sip = s.sip();
  const media = s.media();
  const listenersOk = (sip.wired === false || sip.listening) && (media.wired === false || media.listening);
  return {
    status: dbUp && stateUp && listenersOk ? 'ok' : 'degraded',
    db: { kind: s.db.kind, up: dbUp },
    state: { kind: s.state.kind, up: stateUp },
    sip,
    media,
    uptime_s: Math.floor((Date.now() - s.startedAt) / 1000),
  };
}

/** HTTP status for a report: load balancers and compose healthchecks only read the status code. */
export const healthHttpStatus = (r: HealthReport): number => (r.status === 'ok' ? 200 : 503);
