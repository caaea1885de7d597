import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, configKeys, loadConfig, maskUrl } from '../src/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'gb-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const dataDir = () => join(dir, `data-${++n}`);

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env, { persistSecrets: false });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('loadConfig() accepted a bad config');
}

describe('loadConfig()', () => {
  it('applies the documented defaults when nothing is set', () => {
    const c = loadConfig({ GB_DATA_DIR: dataDir(), GB_SIP_PUBLIC_IP: '10.0.0.5' });
    assert.equal(c.serverId, '34020000002000000001');
    assert.equal(c.domain, '3402000000');
    assert.equal(c.sipHost, '0.0.0.0');
    assert.equal(c.sipPort, 5060);
    assert.equal(c.apiPort, 8090);
    assert.equal(c.apiAuth, true);
    assert.equal(c.registerPolicy, 'known');
    assert.equal(c.keepaliveTimeoutS, 180);
    assert.deepEqual(c.rtpPorts, [30000, 30500]);
    assert.equal(c.mediaHttpPort, 8000);
    assert.equal(c.mediaRtmpPort, 1935);
    assert.equal(c.mediaIp, '10.0.0.5', 'GB_MEDIA_IP defaults to GB_SIP_PUBLIC_IP');
    assert.equal(c.mediaPublicUrl, 'http://10.0.0.5:8000');
    assert.equal(c.noViewerCloseS, 300);
    assert.equal(c.playTimeoutS, 10);
    assert.equal(c.playWaitKeyFrameS, 10);
    assert.equal(c.recordsTimeoutS, 10);
    assert.deepEqual(c.webhooks, []);
    assert.equal(c.logLevel, 'info');
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.redisUrl, undefined);
  });

  it('generates an API token and a nonce secret once, saves them in the data dir, and reuses them', () => {
    const d = dataDir();
    const first = loadConfig({ GB_DATA_DIR: d });
    assert.equal(first.apiTokens.length, 1);
    assert.ok(first.apiTokens[0]!.length >= 24);
    assert.equal(first.generated.apiToken, first.apiTokens[0]);
    assert.equal(first.generated.nonceSecret, true);
    assert.equal(readFileSync(join(d, 'api-token'), 'utf8').trim(), first.apiTokens[0]);
    assert.equal(statSync(join(d, 'api-token')).mode & 0o777, 0o600);
    const second = loadConfig({ GB_DATA_DIR: d });
    assert.deepEqual(second.apiTokens, first.apiTokens);
    assert.equal(second.generated.apiToken, undefined, 'not printed again');
    assert.equal(second.sipNonceSecret, first.sipNonceSecret);
    assert.equal(second.generated.nonceSecret, false);
  });

  it('takes GB_API_TOKEN as a comma-separated list, GB_SIP_NONCE_SECRET and GB_MEDIA_PLAY_SECRET as given, writing no files', () => {
    const d = dataDir();
    const c = loadConfig({
      GB_DATA_DIR: d, GB_API_TOKEN: 'tok-one,tok-two', GB_SIP_NONCE_SECRET: 'a-shared-secret-of-32-characters', GB_MEDIA_PLAY_SECRET: 'a-play-secret-0123456789',
    });
    assert.deepEqual(c.apiTokens, ['tok-one', 'tok-two']);
    assert.equal(c.sipNonceSecret, 'a-shared-secret-of-32-characters');
    assert.equal(c.mediaPlaySecret, 'a-play-secret-0123456789');
    assert.throws(() => statSync(d));
  });

  it('reads a YAML config file named by GB_CONFIG, and the environment overrides it', () => {
    const file = join(dir, 'gb.yaml');
    writeFileSync(file, `GB_SIP_PORT: 5062\nGB_API_PORT: 9000\nGB_RTP_PORTS: 40000-40100\nGB_API_AUTH: off\nGB_DATA_DIR: ${dataDir()}\n`);
    const c = loadConfig({ GB_CONFIG: file, GB_API_PORT: '9001', GB_API_TOKEN: 't' });
    assert.equal(c.sipPort, 5062);
    assert.equal(c.apiPort, 9001);
    assert.deepEqual(c.rtpPorts, [40000, 40100]);
    assert.equal(c.apiAuth, false);
    assert.equal(c.configFile, file);
  });

  it('reads a JSON config file too', () => {
    const file = join(dir, 'gb.json');
    writeFileSync(file, JSON.stringify({ GB_REGISTER_POLICY: 'open', GB_SIP_PASSWORD: '12345678', GB_LOG_LEVEL: 'debug' }));
    const c = loadConfig({ GB_CONFIG: file, GB_DATA_DIR: dataDir() }, { persistSecrets: false });
    assert.equal(c.registerPolicy, 'open');
    assert.equal(c.sipPassword, '12345678');
    assert.equal(c.logLevel, 'debug');
  });

  it('names the key and the value of an invalid setting', () => {
    assert.equal(configError({ GB_SIP_PORT: 'abc' }).message, 'config: GB_SIP_PORT must be an integer 1-65535 (got "abc")');
    assert.equal(configError({ GB_API_PORT: '70000' }).message, 'config: GB_API_PORT must be an integer 1-65535 (got "70000")');
    assert.equal(configError({ GB_SERVER_ID: '3402' }).key, 'GB_SERVER_ID');
    assert.equal(configError({ GB_RTP_PORTS: '30500-30000' }).key, 'GB_RTP_PORTS');
    assert.equal(configError({ GB_REGISTER_POLICY: 'any' }).message, 'config: GB_REGISTER_POLICY must be known or open (got "any")');
    assert.equal(configError({ GB_API_AUTH: 'maybe' }).key, 'GB_API_AUTH');
    assert.equal(configError({ GB_SIP_PUBLIC_IP: '10.0.0' }).key, 'GB_SIP_PUBLIC_IP');
    assert.equal(configError({ DATABASE_URL: 'postgres://x@y/db' }).key, 'DATABASE_URL');
    assert.equal(configError({ REDIS_URL: 'localhost:6379' }).key, 'REDIS_URL');
    assert.equal(configError({ GB_LOG_LEVEL: 'loud' }).key, 'GB_LOG_LEVEL');
    assert.equal(configError({ GB_KEEPALIVE_TIMEOUT_S: '-1' }).key, 'GB_KEEPALIVE_TIMEOUT_S');
  });

  it('parses GB_WEBHOOK_URLS into targets and names it when an entry is bad', () => {
    const c = loadConfig({ GB_WEBHOOK_URLS: 'devices.online=http://hooks.local/a,*=http://hooks.local/all', GB_WEBHOOK_SECRET: 'webhook-secret-0123', GB_DATA_DIR: dataDir() }, { persistSecrets: false });
    assert.deepEqual(c.webhooks.map((w) => [w.event, w.url]), [['devices.online', 'http://hooks.local/a'], ['*', 'http://hooks.local/all']]);
    assert.equal(c.webhookSecret, 'webhook-secret-0123');
    const err = configError({ GB_WEBHOOK_URLS: 'devices.online=ftp://x' });
    assert.equal(err.key, 'GB_WEBHOOK_URLS');
    assert.match(err.message, /^config: GB_WEBHOOK_URLS is invalid: .*http\(s\) \(got "devices.online=ftp:\/\/x"\)$/);
    assert.deepEqual(loadConfig({ GB_DATA_DIR: dataDir() }, { persistSecrets: false }).webhooks, []);
  });

  it('requires GB_SIP_PASSWORD when GB_REGISTER_POLICY is open', () => {
    assert.equal(configError({ GB_REGISTER_POLICY: 'open' }).key, 'GB_SIP_PASSWORD');
  });

  it('rejects an unknown key in the config file, naming it', () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'GB_SIP_PROT: 5060\n');
    const err = configError({ GB_CONFIG: file });
    assert.equal(err.key, 'GB_SIP_PROT');
    assert.match(err.message, /GB_SIP_PROT .* is not a known key/);
  });

  it('reports a config file that cannot be read under GB_CONFIG', () => {
    assert.equal(configError({ GB_CONFIG: join(dir, 'missing.yaml') }).key, 'GB_CONFIG');
    const file = join(dir, 'list.yaml');
    writeFileSync(file, '- a\n- b\n');
    assert.equal(configError({ GB_CONFIG: file }).key, 'GB_CONFIG');
  });

  it('names GB_DATA_DIR when the generated secrets cannot be saved there', () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    assert.throws(
      () => loadConfig({ GB_DATA_DIR: join(file, 'data') }),
      (err: Error) => err instanceof ConfigError && err.key === 'GB_DATA_DIR' && /is not writable \(ENOTDIR\)/.test(err.message),
    );
  });

  it('treats an empty environment variable as unset', () => {
    const c = loadConfig({ GB_SIP_PORT: '', GB_DATA_DIR: dataDir() }, { persistSecrets: false });
    assert.equal(c.sipPort, 5060);
  });

  it('takes GB_MEDIA_INGEST_WORKERS from 0 (main thread) to 64 and names it when out of range', () => {
    assert.equal(loadConfig({ GB_DATA_DIR: dataDir(), GB_MEDIA_INGEST_WORKERS: '0' }, { persistSecrets: false }).mediaIngestWorkers, 0);
    assert.equal(loadConfig({ GB_DATA_DIR: dataDir(), GB_MEDIA_INGEST_WORKERS: '3' }, { persistSecrets: false }).mediaIngestWorkers, 3);
    assert.match(configError({ GB_DATA_DIR: dataDir(), GB_MEDIA_INGEST_WORKERS: '65' }).message, /GB_MEDIA_INGEST_WORKERS/);
  });

  it('signs media URLs by default with a secret kept in the data dir; GB_MEDIA_AUTH=off opens them', () => {
    const dir = dataDir();
    const first = loadConfig({ GB_DATA_DIR: dir });
    assert.ok(first.mediaPlaySecret.length >= 32);
    assert.equal(loadConfig({ GB_DATA_DIR: dir }).mediaPlaySecret, first.mediaPlaySecret, 'same secret after a restart');
    assert.equal(first.mediaUrlTtlS, 86_400);
    assert.equal(loadConfig({ GB_DATA_DIR: dir, GB_MEDIA_PLAY_SECRET: 'shared-by-all-nodes-123' }).mediaPlaySecret, 'shared-by-all-nodes-123');
    assert.equal(loadConfig({ GB_DATA_DIR: dir, GB_MEDIA_AUTH: 'off' }).mediaPlaySecret, '');
    assert.match(configError({ GB_DATA_DIR: dir, GB_MEDIA_PLAY_SECRET: 'short' }).message, /GB_MEDIA_PLAY_SECRET/);
    assert.match(configError({ GB_DATA_DIR: dir, GB_MEDIA_URL_TTL_S: '5' }).message, /GB_MEDIA_URL_TTL_S/);
  });

  it('puts live HLS under the data directory unless GB_MEDIA_HLS_DIR says where', () => {
    assert.equal(loadConfig({ GB_DATA_DIR: dir }, { persistSecrets: false }).mediaHlsDir, undefined);
    assert.equal(loadConfig({ GB_DATA_DIR: dir, GB_MEDIA_HLS_DIR: 'run/hls' }, { persistSecrets: false }).mediaHlsDir, resolve('run/hls'));
  });

  it('reads list pages in a worker thread unless GB_API_LIST_WORKER=off', () => {
    assert.equal(loadConfig({ GB_DATA_DIR: dir }, { persistSecrets: false }).apiListWorker, true);
    assert.equal(loadConfig({ GB_DATA_DIR: dir, GB_API_LIST_WORKER: 'off' }, { persistSecrets: false }).apiListWorker, false);
    assert.match(configError({ GB_DATA_DIR: dir, GB_API_LIST_WORKER: 'maybe' }).message, /GB_API_LIST_WORKER/);
  });

  it('knows every key of the configuration table', () => {
    for (const key of ['GB_CONFIG', 'GB_DATA_DIR', 'DATABASE_URL', 'REDIS_URL', 'GB_SERVER_ID', 'GB_SIP_HOST', 'GB_SIP_PORT', 'GB_SIP_PUBLIC_IP',
      'GB_REGISTER_POLICY', 'GB_SIP_PASSWORD', 'GB_KEEPALIVE_TIMEOUT_S', 'GB_API_HOST', 'GB_API_PORT', 'GB_API_TOKEN', 'GB_API_AUTH',
      'GB_MEDIA_IP', 'GB_RTP_PORTS', 'GB_MEDIA_HTTP_PORT', 'GB_MEDIA_RTMP_PORT', 'GB_MEDIA_PUBLIC_URL', 'GB_NO_VIEWER_CLOSE_S',
      'GB_PLAY_TIMEOUT_S', 'GB_LOG_LEVEL', 'GB_SIP_NONCE_SECRET', 'GB_WEBHOOK_URLS', 'GB_WEBHOOK_SECRET',
      'GB_PLAY_WAIT_KEYFRAME_S', 'GB_RECORDS_TIMEOUT_S', 'GB_MEDIA_INGEST_WORKERS', 'GB_MEDIA_AUTH', 'GB_MEDIA_PLAY_SECRET', 'GB_MEDIA_URL_TTL_S', 'GB_API_LIST_WORKER', 'GB_MEDIA_HLS_DIR']) {
      assert.ok((configKeys as string[]).includes(key), key);
    }
  });
});

describe('maskUrl()', () => {
  it('hides the password of a database URL', () => {
    assert.equal(maskUrl('mysql://gb:s3cret@db:3306/gb'), 'mysql://gb:***@db:3306/gb');
    assert.equal(maskUrl('mysql://db/gb'), 'mysql://db/gb');
  });
});
