// `npm start`: load config, start the platform, stop it cleanly on SIGTERM/SIGINT.
// Exit codes: 2 bad config, 1 could not start (port in use, database or Redis unreachable).
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger } from './logger.ts';
import { createPlatform, type Platform, type PlatformHooks } from './platform.ts';
import { createPlatformHooks } from './platform-hooks.ts';

const HARD_EXIT_MS = 10_000;

// SIP (sip-core createSipServer), media (createMediaEngine) and the REST app (http/createHttpApp)
// plug in here (platform-hooks.ts).
const hooks: PlatformHooks = createPlatformHooks();

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
  // A bug reached by one malformed packet must not drop every camera: log it and keep serving.
  process.on('uncaughtException', (err) => logger.fatal({ err }, 'uncaught exception'));

  if (config.generated.apiToken) {
    // printed once, on the start that created it; afterwards it is only in the file
    process.stdout.write(`API token (saved in ${config.dataDir}/api-token, shown once): ${config.generated.apiToken}\n`);
  }

  let platform: Platform;
  try {
    platform = await createPlatform(config, logger, hooks);
  } catch (err) {
    const e = err as Error;
    logger.fatal({ err: e.message }, 'cannot start');
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`GB28181 gateway: API http://${config.apiHost}:${platform.apiPort}  console /console  docs /swagger  health /health\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error(`shutdown took longer than ${HARD_EXIT_MS / 1000} s: exiting`);
      process.exit(1);
    }, HARD_EXIT_MS).unref();
    platform.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await main();
