// `npm run migration:run`: apply pending migrations to the configured database and exit.
// (createPlatform also runs them at start; this is for operators who migrate before a rollout.)
import { ConfigError, loadConfig } from './config.ts';
import { describeDatabase, openDataSource } from './storage/data-source.ts';

try {
  const config = loadConfig(process.env, { persistSecrets: false });
  const ds = await openDataSource(config, { retryForMs: 0 });
  const applied: { name: string }[] = await ds.query('SELECT name FROM migrations ORDER BY id');
  process.stdout.write(`${describeDatabase(config)}: ${applied.length} migrations applied (${applied.map((m) => m.name).join(', ')})\n`);
  await ds.destroy();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}
