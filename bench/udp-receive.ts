// Benchmark (not a test): receive CPU per 1400-byte datagram through @gb28181/udp-batch (recvmmsg)
// against node:dgram, the reference, in the same run, each with an empty handler. A child process
// sends ~100k datagrams/s for 5 s (sendmmsg) spread over the sockets. Prints one line.
//   node --import tsx bench/udp-receive.ts [--sockets 1]
import dgram from 'node:dgram';
import { fork } from 'node:child_process';
import { UdpBatchSocket, udpBatchAvailable } from '../packages/udp-batch/src/index.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const SOCKETS = arg('sockets', 1);
const SECONDS = 5;

async function send(ports: number[]): Promise<void> {
  const tx = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, sendBufferBytes: 4 << 20 });
  const burst = Array.from({ length: Math.max(1, Math.round(500 / ports.length)) }, () => Buffer.alloc(1400));
  const t0 = Date.now();
  let sent = 0;
  const tick = (): void => {
    for (const p of ports) sent += tx.sendBatch(burst, p, '127.0.0.1');
    if (Date.now() - t0 < SECONDS * 1000) setTimeout(tick, 5);
    else setTimeout(() => process.send!(sent, () => process.exit(0)), 300);
  };
  tick();
}

/** CPU µs per received datagram on one receive path. */
async function measure(path: 'batch' | 'dgram'): Promise<{ usPerDatagram: number; received: number; lost: number }> {
  let n = 0;
  const ports: number[] = [];
  const closers: (() => unknown)[] = [];
  for (let i = 0; i < SOCKETS; i++) {
    if (path === 'dgram') {
      const r = dgram.createSocket('udp4');
      r.on('message', () => n++);
      await new Promise<void>((res) => r.bind(0, '127.0.0.1', () => res()));
      r.setRecvBufferSize(4 << 20);
      ports.push(r.address().port);
      closers.push(() => r.close());
    } else {
      const r = UdpBatchSocket.open({ host: '127.0.0.1', port: 0, recvBufferBytes: 4 << 20, onDatagram: () => n++ });
      ports.push(r.port);
      closers.push(() => r.close());
    }
  }
  const c0 = process.cpuUsage();
  const child = fork(new URL(import.meta.url).pathname, ['--send', ports.join(',')], { execArgv: ['--import', 'tsx'] });
  const sent = await new Promise<number>((resolve) => child.once('message', (m) => resolve(Number(m))));
  await new Promise((resolve) => child.once('exit', resolve));
  const c = process.cpuUsage(c0);
  for (const close of closers) await close();
  return { usPerDatagram: (c.user + c.system) / n, received: n, lost: sent - n };
}

const sendArg = process.argv.indexOf('--send');
if (sendArg >= 0) await send(process.argv[sendArg + 1]!.split(',').map(Number));
else {
  if (!udpBatchAvailable()) throw new Error('the udp-batch addon is not built here: nothing to compare');
  const batch = await measure('batch');
  const reference = await measure('dgram');
  console.log(
    `udp-receive: sockets=${SOCKETS} batch ${batch.usPerDatagram.toFixed(2)} us/datagram (${batch.received} received, ${batch.lost} lost), ` +
      `node:dgram ${reference.usPerDatagram.toFixed(2)} us/datagram (${reference.received}, ${reference.lost} lost), dgram/batch CPU ratio ${(reference.usPerDatagram / batch.usPerDatagram).toFixed(2)}`,
  );
}
