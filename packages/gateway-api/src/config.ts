import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseWebhookUrls, type WebhookTarget } from './events/webhooks.ts';

// One schema, keyed by the operator-facing names (env variables and config-file keys are the same,
// see README "Configuration"). Raw values arrive as strings (env) or scalars (file); every key
// validates to a message that names it, so a typo in a compose file is found at start.

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

const text = (what: string) => z.string({ error: `must be ${what}` });

const integer = (min: number, max: number) => {
  const msg = `must be an integer ${min}-${max}`;
  return z
    .string({ error: msg })
    .regex(/^\d+$/, { error: msg })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: msg }).max(max, { error: msg }));
};

const port = () => integer(1, 65535);

const ipv4 = () =>
  text('an IPv4 address').regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, {
    error: 'must be an IPv4 address',
  });

const onOff = () =>
  z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['on', 'off', 'true', 'false', '1', '0'], { error: 'must be on or off' }))
    .transform((s) => s === 'on' || s === 'true' || s === '1');

const databaseUrl = () =>
  text('a mysql:// or mariadb:// URL').refine(
    (s) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'mysql:' || u.protocol === 'mariadb:') && u.hostname !== '';
      } catch {
        return false;
      }
    },
    { error: 'must be a mysql:// or mariadb:// URL' },
  );

const redisUrl = () =>
  text('a redis:// URL').refine(
    (s) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
      } catch {
        return false;
      }
    },
    { error: 'must be a redis:// or rediss:// URL' },
  );

const portRange = () =>
  text('a port range like 30000-30500')
    .regex(/^\d+-\d+$/, { error: 'must be a port range like 30000-30500' })
    .transform((s) => s.split('-').map(Number) as [number, number])
    .refine(([lo, hi]) => lo >= 1 && hi <= 65535 && lo <= hi, {
      error: 'must be a port range like 30000-30500 (1-65535, low <= high)',
    });

/** Keys an operator may set (env or file), with their validators. Every key is optional here:
 * defaults are applied afterwards because some depend on others (GB_MEDIA_IP on GB_SIP_PUBLIC_IP). */
export const configSchema = z.object({
  GB_CONFIG: text('a file path').optional(),
  GB_DATA_DIR: text('a directory path').min(1).optional(),
  DATABASE_URL: databaseUrl().optional(),
  REDIS_URL: redisUrl().optional(),
  GB_SERVER_ID: text('a 20-digit GB28181 id').regex(/^\d{20}$/, { error: 'must be a 20-digit GB28181 id' }).optional(),
  GB_SIP_HOST: ipv4().optional(),
  GB_SIP_PORT: port().optional(),
  GB_SIP_PUBLIC_IP: ipv4().optional(),
  GB_SIP_NONCE_SECRET: text('a secret of at least 16 characters').min(16, { error: 'must be a secret of at least 16 characters' }).optional(),
  GB_REGISTER_POLICY: z.enum(['known', 'open'], { error: 'must be known or open' }).optional(),
  GB_SIP_PASSWORD: text('a password').min(1, { error: 'must not be empty' }).max(64, { error: 'must be at most 64 characters' }).optional(),
  GB_KEEPALIVE_TIMEOUT_S: integer(10, 86400).optional(),
  GB_API_HOST: ipv4().optional(),
  GB_API_PORT: port().optional(),
  GB_API_TOKEN: text('a comma-separated token list').regex(/^[\x21-\x7e]+(,[\x21-\x7e]+)*$/, {
    error: 'must be a comma-separated list of printable tokens',
  }).optional(),
  GB_API_AUTH: onOff().optional(),
  GB_API_LIST_WORKER: onOff().optional(),
  GB_MEDIA_IP: ipv4().optional(),
  GB_RTP_PORTS: portRange().optional(),
  GB_MEDIA_HTTP_PORT: port().optional(),
  GB_MEDIA_RTMP_PORT: port().optional(),
  GB_MEDIA_INGEST_WORKERS: integer(0, 64).optional(),
  GB_MEDIA_HLS_DIR: text('a directory path').min(1).optional(),
  GB_MEDIA_AUTH: onOff().optional(),
  GB_MEDIA_PLAY_SECRET: text('a secret of at least 16 characters').min(16, { error: 'must be a secret of at least 16 characters' }).optional(),
  GB_MEDIA_URL_TTL_S: integer(60, 31_536_000).optional(),
  GB_MEDIA_PUBLIC_URL: text('an http(s) URL').regex(/^https?:\/\/[^/]+/, { error: 'must be an http(s) URL' }).optional(),
  GB_NO_VIEWER_CLOSE_S: integer(0, 86400).optional(),
  GB_PLAY_TIMEOUT_S: integer(1, 600).optional(),
  GB_PLAY_WAIT_KEYFRAME_S: integer(0, 600).optional(),
  GB_RECORDS_TIMEOUT_S: integer(1, 120).optional(),
  GB_WEBHOOK_URLS: text('webhook targets')
    .superRefine((raw, ctx) => {
      try {
        parseWebhookUrls(raw);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `is invalid: ${(err as Error).message.replace(/^GB_WEBHOOK_URLS: /, '')}` });
      }
    })
    .optional(),
  GB_WEBHOOK_SECRET: text('a secret').min(16, { error: 'must be a secret of at least 16 characters' }).optional(),
  GB_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: 'must be one of fatal, error, warn, info, debug, trace, silent',
  }).optional(),
});

export type ConfigKey = keyof typeof configSchema.shape;
export const configKeys = Object.keys(configSchema.shape) as ConfigKey[];

export interface Config {
  configFile?: string;
  dataDir: string;
  /** unset = SQLite file in dataDir */
  databaseUrl?: string;
  /** unset = in-process shared state */
  redisUrl?: string;
  serverId: string;
  /** realm and SIP domain: first 10 digits of serverId */
  domain: string;
  sipHost: string;
  sipPort: number;
  sipPublicIp: string;
  /** HMAC key for stateless digest nonces; the same on every node (generated into dataDir if unset) */
  sipNonceSecret: string;
  registerPolicy: 'known' | 'open';
  sipPassword?: string;
  keepaliveTimeoutS: number;
  apiHost: string;
  apiPort: number;
  /** bearer tokens accepted by the REST API (one generated into dataDir when none is configured) */
  apiTokens: string[];
  apiAuth: boolean;
  /** SQLite list pages read in a worker thread beside the main thread (no effect on MySQL) */
  apiListWorker: boolean;
  mediaIp: string;
  rtpPorts: [number, number];
  mediaHttpPort: number;
  mediaRtmpPort: number;
  mediaPublicUrl: string;
  /** worker threads for RTP/PS ingest; 0 = main thread; unset = the media engine's default, max(1, min(2, cores - 1)) */
  mediaIngestWorkers?: number;
  /** where live HLS segments go (a directory per stream); unset = <dataDir>/media/hls */
  mediaHlsDir?: string;
  /** key of the `sign` every play URL needs (GB_MEDIA_AUTH on, the default); '' = media URLs are open */
  mediaPlaySecret: string;
  /** how long a signed play URL can be opened (a player already playing is not cut) */
  mediaUrlTtlS: number;
  noViewerCloseS: number;
  playTimeoutS: number;
  /** once media flows, answer a play after this long even without a key frame (default = playTimeoutS) */
  playWaitKeyFrameS: number;
  /** longest wait for a device's RecordInfo answers (default 10) */
  recordsTimeoutS: number;
  /** GB_WEBHOOK_URLS: `event=url,...` or a JSON object `{"devices.*": "http://..."}`; empty = no webhooks */
  webhooks: WebhookTarget[];
  /** HMAC-SHA256 key of the webhook signature header; unset = unsigned deliveries */
  webhookSecret?: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** secrets created by this start (the token is printed once by main.ts) */
  generated: { apiToken?: string; nonceSecret: boolean };
}

export interface LoadConfigOptions {
  /** write the generated token / nonce secret into dataDir (default true); false keeps loading pure */
  persistSecrets?: boolean;
}

/** Reads GB_CONFIG (YAML or JSON) if named, overlays the environment, validates, applies defaults. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: LoadConfigOptions = {}): Config {
  const raw: Record<string, string> = {};
  const configFile = nonEmpty(env.GB_CONFIG);
  if (configFile) Object.assign(raw, readConfigFile(configFile));
  for (const key of configKeys) {
    const v = nonEmpty(env[key]);
    if (v !== undefined) raw[key] = v;
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? '?');
    throw new ConfigError(key, `config: ${key} ${issue.message} (got ${JSON.stringify(raw[key])})`);
  }
  const c = parsed.data;
  const registerPolicy = c.GB_REGISTER_POLICY ?? 'known';
  if (registerPolicy === 'open' && !c.GB_SIP_PASSWORD) {
    throw new ConfigError('GB_SIP_PASSWORD', 'config: GB_SIP_PASSWORD is required when GB_REGISTER_POLICY is open');
  }
  const dataDir = resolve(c.GB_DATA_DIR ?? './data');
  const serverId = c.GB_SERVER_ID ?? '34020000002000000001';
  const sipPublicIp = c.GB_SIP_PUBLIC_IP ?? firstPublicIpv4();
  const mediaHttpPort = c.GB_MEDIA_HTTP_PORT ?? 8000;
  const persist = opts.persistSecrets ?? true;

  const generated: Config['generated'] = { nonceSecret: false };
  let apiTokens = c.GB_API_TOKEN ? c.GB_API_TOKEN.split(',') : [];
  if (apiTokens.length === 0) {
    const t = readOrCreateSecret(dataDir, 'api-token', 24, persist);
    apiTokens = [t.value];
    if (t.created) generated.apiToken = t.value;
  }
  let sipNonceSecret = c.GB_SIP_NONCE_SECRET;
  if (!sipNonceSecret) {
    const s = readOrCreateSecret(dataDir, 'sip-nonce-secret', 32, persist);
    sipNonceSecret = s.value;
    generated.nonceSecret = s.created;
  }

  let mediaPlaySecret = '';
  if (c.GB_MEDIA_AUTH ?? true) mediaPlaySecret = c.GB_MEDIA_PLAY_SECRET ?? readOrCreateSecret(dataDir, 'media-play-secret', 32, persist).value;

  return {
    configFile,
    dataDir,
    databaseUrl: c.DATABASE_URL,
    redisUrl: c.REDIS_URL,
    serverId,
    domain: serverId.slice(0, 10),
    sipHost: c.GB_SIP_HOST ?? '0.0.0.0',
    sipPort: c.GB_SIP_PORT ?? 5060,
    sipPublicIp,
    sipNonceSecret,
    registerPolicy,
    sipPassword: c.GB_SIP_PASSWORD,
    keepaliveTimeoutS: c.GB_KEEPALIVE_TIMEOUT_S ?? 180,
    apiHost: c.GB_API_HOST ?? '0.0.0.0',
    apiPort: c.GB_API_PORT ?? 8090,
    apiTokens,
    apiAuth: c.GB_API_AUTH ?? true,
    apiListWorker: c.GB_API_LIST_WORKER ?? true,
    mediaIp: c.GB_MEDIA_IP ?? sipPublicIp,
    rtpPorts: c.GB_RTP_PORTS ?? [30000, 30500],
    mediaHttpPort,
    mediaRtmpPort: c.GB_MEDIA_RTMP_PORT ?? 1935,
    mediaIngestWorkers: c.GB_MEDIA_INGEST_WORKERS,
    mediaHlsDir: c.GB_MEDIA_HLS_DIR === undefined ? undefined : resolve(c.GB_MEDIA_HLS_DIR),
    mediaPlaySecret,
    mediaUrlTtlS: c.GB_MEDIA_URL_TTL_S ?? 86_400,
    mediaPublicUrl: (c.GB_MEDIA_PUBLIC_URL ?? `http://${sipPublicIp}:${mediaHttpPort}`).replace(/\/+$/, ''),
    noViewerCloseS: c.GB_NO_VIEWER_CLOSE_S ?? 300,
    playTimeoutS: c.GB_PLAY_TIMEOUT_S ?? 10,
    playWaitKeyFrameS: c.GB_PLAY_WAIT_KEYFRAME_S ?? c.GB_PLAY_TIMEOUT_S ?? 10,
    recordsTimeoutS: c.GB_RECORDS_TIMEOUT_S ?? 10,
    webhooks: parseWebhookUrls(c.GB_WEBHOOK_URLS),
    webhookSecret: c.GB_WEBHOOK_SECRET,
    logLevel: c.GB_LOG_LEVEL ?? 'info',
    generated,
  };
}

/** DATABASE_URL with the password replaced, for logs and error messages. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable url>';
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function readConfigFile(path: string): Record<string, string> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8')); // YAML is a superset of JSON
  } catch (err) {
    throw new ConfigError('GB_CONFIG', `config: GB_CONFIG file ${path} cannot be read: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError('GB_CONFIG', `config: GB_CONFIG file ${path} must hold a mapping of KEY: value`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (!(configKeys as string[]).includes(key) || key === 'GB_CONFIG') {
      throw new ConfigError(key, `config: ${key} in ${path} is not a known key`);
    }
    if (value === null || value === undefined) continue;
    if (typeof value === 'object') {
      throw new ConfigError(key, `config: ${key} in ${path} must be a scalar (got ${JSON.stringify(value)})`);
    }
    out[key] = String(value);
  }
  return out;
}

function readOrCreateSecret(dataDir: string, file: string, bytes: number, persist: boolean): { value: string; created: boolean } {
  const path = join(dataDir, file);
  if (existsSync(path)) {
    const value = readFileSync(path, 'utf8').trim();
    if (value) return { value, created: false };
  }
  const value = randomBytes(bytes).toString('base64url');
  if (persist) {
    try {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(path, value + '\n', { mode: 0o600 });
      chmodSync(path, 0o600);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new ConfigError('GB_DATA_DIR', `config: GB_DATA_DIR ${dataDir} is not writable (${e.code ?? e.message})`);
    }
  }
  return { value, created: true };
}

function firstPublicIpv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return '127.0.0.1';
}
