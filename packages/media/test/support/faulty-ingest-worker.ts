// The real ingest worker, plus two bugs, triggered by the name of the stream opened:
// "crash…" throws an uncaught exception in the thread a moment later; "hang…" spins forever when
// its stream is flushed.
import { parentPort } from 'node:worker_threads';
import '../../src/ingest-worker.ts';

const hanging = new Set<number>();
parentPort?.on('message', (m: { op?: string; name?: string; stream?: number }) => {
  if (m.op === 'open' && m.name?.startsWith('crash')) {
    setTimeout(() => {
      throw new Error('simulated ingest bug');
    }, 50);
  } else if (m.op === 'open' && m.name?.startsWith('hang') && m.stream !== undefined) {
    hanging.add(m.stream);
  } else if (m.op === 'flush' && m.stream !== undefined && hanging.has(m.stream)) {
    for (;;);
  }
});
