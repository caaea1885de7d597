// A Config for tests: every listener on an ephemeral port (0) on 127.0.0.1, secrets fixed, no
// files written until the platform opens its database.
import { loadConfig, type Config } from '../../src/config.ts';
import type { StorageConfig } from '../../src/storage/data-source.ts';

export const TEST_API_TOKEN = 'test-token-0123456789';

export function testConfig(storage: StorageConfig, overrides: Partial<Config> = {}): Config {
  const base = loadConfig(
    {
      GB_DATA_DIR: storage.dataDir,
      GB_API_TOKEN: TEST_API_TOKEN,
      GB_SIP_NONCE_SECRET: 'test-nonce-secret-0123456789',
      GB_SIP_PUBLIC_IP: '127.0.0.1',
      GB_LOG_LEVEL: 'silent',
    },
    { persistSecrets: false },
  );
  return {
    ...base,
    databaseUrl: storage.databaseUrl,
    sipHost: '127.0.0.1',
    sipPort: 0,
    apiHost: '127.0.0.1',
    apiPort: 0,
    mediaHttpPort: 0,
    mediaRtmpPort: 0,
    ...overrides,
  };
}
