import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { configKeys, loadConfig } from '../src/config.ts';

// No Docker engine runs here: the compose file and the Dockerfile are checked piece by piece
// against the config schema, so a renamed key or a wrong service host fails this test.

const root = new URL('../../../', import.meta.url).pathname;
const compose = parse(readFileSync(`${root}docker/docker-compose.yml`, 'utf8')) as {
  services: Record<string, { environment?: Record<string, unknown> | string[]; ports?: string[]; depends_on?: Record<string, { condition: string }>; healthcheck?: unknown; image?: string }>;
};
const dockerfile = readFileSync(`${root}docker/Dockerfile`, 'utf8');

/** environment as a map, in either compose spelling (map or KEY=value list) */
function environment(service: string): Record<string, string> {
  const env = compose.services[service]?.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

/** what compose does with ${VAR:-default} when VAR is unset */
const interpolate = (v: string) => v.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

describe('docker/docker-compose.yml', () => {
  const gateway = environment('gateway');

  it('sets only variables that are keys of the config schema on the gateway service', () => {
    assert.ok(Object.keys(gateway).length >= 5);
    for (const key of Object.keys(gateway)) assert.ok((configKeys as string[]).includes(key), `${key} is not a config key`);
  });

  it('sets values the config schema accepts', () => {
    const env = Object.fromEntries(Object.entries(gateway).map(([k, v]) => [k, interpolate(v)]));
    const c = loadConfig({ ...env, GB_DATA_DIR: '/nonexistent/data' }, { persistSecrets: false });
    assert.equal(c.apiPort, 8090);
    assert.equal(c.sipPort, 5060);
  });

  it('points DATABASE_URL at the mariadb service and REDIS_URL at the redis service', () => {
    const db = new URL(interpolate(gateway.DATABASE_URL!));
    assert.equal(db.protocol, 'mariadb:');
    assert.equal(db.hostname, 'mariadb');
    assert.ok(compose.services.mariadb?.image?.startsWith('mariadb:10.11'));
    const mariadbEnv = environment('mariadb');
    assert.equal(db.pathname, `/${mariadbEnv.MARIADB_DATABASE}`);
    assert.equal(db.username, mariadbEnv.MARIADB_USER);
    assert.equal(decodeURIComponent(db.password), interpolate(mariadbEnv.MARIADB_PASSWORD!));
    const redis = new URL(gateway.REDIS_URL!);
    assert.equal(redis.hostname, 'redis');
    assert.ok(compose.services.redis?.image?.startsWith('redis:7'));
  });

  it('starts the gateway after healthy database and redis services', () => {
    const deps = compose.services.gateway?.depends_on ?? {};
    assert.equal(deps.mariadb?.condition, 'service_healthy');
    assert.equal(deps.redis?.condition, 'service_healthy');
    assert.ok(compose.services.mariadb?.healthcheck);
    assert.ok(compose.services.redis?.healthcheck);
  });

  it('publishes the configured SIP, API, media and RTP ports', () => {
    const c = loadConfig(Object.fromEntries(Object.entries(gateway).map(([k, v]) => [k, interpolate(v)])), { persistSecrets: false });
    const ports = compose.services.gateway?.ports ?? [];
    for (const want of [`${c.sipPort}:${c.sipPort}/udp`, `${c.sipPort}:${c.sipPort}/tcp`, `${c.apiPort}:${c.apiPort}/tcp`,
      `${c.mediaHttpPort}:${c.mediaHttpPort}/tcp`, `${c.mediaRtmpPort}:${c.mediaRtmpPort}/tcp`,
      `${c.rtpPorts.join('-')}:${c.rtpPorts.join('-')}/udp`, `${c.rtpPorts.join('-')}:${c.rtpPorts.join('-')}/tcp`]) {
      assert.ok(ports.includes(want), `ports lacks ${want}`);
    }
  });
});

describe('docker/Dockerfile', () => {
  it('keeps host node_modules and data out of the build context', () => {
    const ignore = readFileSync(`${root}docker/Dockerfile.dockerignore`, 'utf8').split('\n').map((l) => l.trim());
    assert.ok(ignore.includes('**/node_modules'));
    assert.ok(ignore.includes('data'));
  });

  it('copies every workspace manifest before npm ci, so every workspace is installed and linked', () => {
    const workspaces = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { workspaces: string[] }).workspaces;
    const install = dockerfile.indexOf('RUN npm ci');
    assert.ok(install > 0);
    for (const ws of workspaces) {
      const copy = dockerfile.search(new RegExp(`^COPY ${ws}/package\\.json`, 'm'));
      assert.ok(copy >= 0 && copy < install, `${ws}/package.json is not copied before npm ci`);
    }
  });

  it('exposes the default ports of the config schema and runs main.ts', () => {
    const c = loadConfig({ GB_API_TOKEN: 't', GB_SIP_NONCE_SECRET: 'x'.repeat(16) }, { persistSecrets: false });
    const expose = dockerfile.match(/^EXPOSE (.*)$/m)?.[1]?.split(/\s+/) ?? [];
    for (const want of [`${c.sipPort}/udp`, `${c.sipPort}/tcp`, `${c.apiPort}/tcp`, `${c.mediaHttpPort}/tcp`, `${c.mediaRtmpPort}/tcp`,
      `${c.rtpPorts.join('-')}/udp`, `${c.rtpPorts.join('-')}/tcp`]) {
      assert.ok(expose.includes(want), `EXPOSE lacks ${want}`);
    }
    assert.match(dockerfile, /^FROM node:20-bookworm-slim/m);
    assert.match(dockerfile, /npm ci/);
    assert.match(dockerfile, /packages\/gateway-api\/src\/main\.ts/);
    // the image starts the gateway exactly as `npm start` does (same node flags)
    const cmd = JSON.parse(dockerfile.match(/^CMD (\[.*\])$/m)?.[1] ?? '[]') as string[];
    const start = (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: { start: string } }).scripts.start;
    assert.equal(cmd.join(' '), start);
    for (const env of dockerfile.matchAll(/^ENV (.*(?:\\\n.*)*)$/gm)) {
      for (const [, key] of env[1]!.matchAll(/(\w+)=/g)) {
        if (key !== 'NODE_ENV') assert.ok((configKeys as string[]).includes(key!), `Dockerfile ENV ${key} is not a config key`);
      }
    }
  });
});
