import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread on `url`. A .ts entry needs tsx inside the worker: on Node 20 the
 * `--import tsx` inherited through execArgv does not apply to a worker's entry module (tsx#354),
 * so a small bootstrap registers tsx's ESM loader first and then imports the entry.
 */
export function startWorker(url: URL, workerData: unknown): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { eval: true, workerData });
}
