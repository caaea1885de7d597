// REGISTER-with-digest throughput on loopback: the server runs in a child process, this process
// drives N devices (REGISTER → 401 → REGISTER with Authorization → 200) over one UDP socket.
// Then every device sends one keepalive MESSAGE (same window) to measure the keepalive path.
// Usage: node --import tsx packages/sip-core/bench/register-load.ts [devices=20000] [window=400]
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';

const SERVER_ID = '34020000002000000001';
const DOMAIN = '3402000000';
const PASSWORD = '12345678';
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const idOf = (i: number) => `3402000000132${String(i).padStart(7, '0')}`;

if (process.argv[2] === '--server') {
  const { createSipServer } = await import('../src/index.ts');
  const server = await createSipServer({
    serverId: SERVER_ID,
    host: '127.0.0.1',
    port: 0,
    publicIp: '127.0.0.1',
    registerPolicy: 'known',
    keepaliveTimeoutS: 180,
    nonceSecret: 'bench',
    catalogOnRegister: false,
    credentials: { lookup: async (deviceId) => ({ deviceId, password: PASSWORD }) },
  });
  let registered = 0;
  server.on('registered', () => registered++);
  process.send!({ port: server.port });
  let keepalives = 0;
  server.on('keepalive', () => keepalives++);
  process.on('message', async (m: string) => {
    process.send!({ registered, keepalives, cpu: process.cpuUsage() });
    if (m === 'stop') {
      await server.close();
      process.exit(0);
    }
  });
} else {
  const devices = Number(process.argv[2] ?? 20000);
  const window = Number(process.argv[3] ?? 400);
  const child = fork(fileURLToPath(import.meta.url), ['--server'], { execArgv: ['--import', 'tsx', ...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/sipprof'] : [])] });
  const port = await new Promise<number>((r) => child.once('message', (m: { port: number }) => r(m.port)));
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const msg = (i: number, cseq: number, auth?: string) => {
    const id = idOf(i);
    return Buffer.from(
      `REGISTER sip:${SERVER_ID}@${DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bK${i}x${cseq}\r\n` +
        `From: <sip:${id}@${DOMAIN}>;tag=${i}\r\nTo: <sip:${id}@${DOMAIN}>\r\nCall-ID: ${i}@bench\r\nCSeq: ${cseq} REGISTER\r\n` +
        `Contact: <sip:${id}@127.0.0.1:5060>\r\nMax-Forwards: 70\r\nExpires: 3600\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Content-Length: 0\r\n\r\n`,
    );
  };
  let next = 0;
  let done = 0;
  let failed = 0;
  const sentAt = new Map<number, number>();
  const start = performance.now();
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const launch = () => {
    while (next < devices && next - done - failed < window) {
      sentAt.set(next, performance.now());
      sock.send(msg(next, 1), port, '127.0.0.1');
      next++;
    }
    if (done + failed >= devices) finish();
  };
  let phase: 'register' | 'keepalive' = 'register';
  let kaNext = 0;
  let kaDone = 0;
  let kaFinish!: () => void;
  const kaFinished = new Promise<void>((r) => (kaFinish = r));
  const keepalive = (i: number) => {
    const id = idOf(i);
    const body = `<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>${i}</SN>\r\n<DeviceID>${id}</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n`;
    return Buffer.from(
      `MESSAGE sip:${SERVER_ID}@${DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bKka${i}\r\n` +
        `From: <sip:${id}@${DOMAIN}>;tag=${i}\r\nTo: <sip:${SERVER_ID}@${DOMAIN}>\r\nCall-ID: ${i}@bench\r\nCSeq: 3 MESSAGE\r\n` +
        `Content-Type: Application/MANSCDP+xml\r\nMax-Forwards: 70\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
  };
  const kaLaunch = () => {
    while (kaNext < devices && kaNext - kaDone < window) sock.send(keepalive(kaNext++), port, '127.0.0.1');
    if (kaDone >= devices) kaFinish();
  };
  sock.on('message', (b) => {
    const s = b.toString('latin1');
    if (phase === 'keepalive') {
      if (s.startsWith('SIP/2.0 200')) kaDone++;
      kaLaunch();
      return;
    }
    const i = Number(/Call-ID: (\d+)@bench/.exec(s)?.[1]);
    if (s.startsWith('SIP/2.0 401')) {
      const nonce = /nonce="([^"]+)"/.exec(s)![1]!;
      const id = idOf(i);
      const uri = `sip:${SERVER_ID}@${DOMAIN}`;
      const resp = md5(`${md5(`${id}:${DOMAIN}:${PASSWORD}`)}:${nonce}:00000001:c:auth:${md5(`REGISTER:${uri}`)}`);
      sock.send(msg(i, 2, `Digest username="${id}",realm="${DOMAIN}",nonce="${nonce}",uri="${uri}",response="${resp}",algorithm=MD5,qop=auth,nc=00000001,cnonce="c"`), port, '127.0.0.1');
    } else if (!sentAt.has(i)) {
      // A late duplicate answer to a retried request.
    } else if (s.startsWith('SIP/2.0 200')) {
      sentAt.delete(i);
      done++;
      launch();
    } else {
      sentAt.delete(i);
      failed++;
      launch();
    }
  });
  // Lost datagrams (socket buffers) are resent after a second.
  const retry = setInterval(() => {
    const now = performance.now();
    for (const [i, at] of sentAt) if (now - at > 1000 && i < next) {
      sentAt.set(i, now);
      sock.send(msg(i, 1), port, '127.0.0.1');
    }
  }, 500);
  type Stats = { registered: number; keepalives: number; cpu: NodeJS.CpuUsage };
  const ask = (m: string) => {
    const p = new Promise<Stats>((r) => child.once('message', r));
    child.send(m);
    return p;
  };
  const cpuOf = (st: Stats) => (st.cpu.user + st.cpu.system) / 1e6;
  launch();
  await finished;
  const secs = (performance.now() - start) / 1000;
  clearInterval(retry);
  const stats = await ask('cpu');
  phase = 'keepalive';
  const kaStart = performance.now();
  kaLaunch();
  // UDP may drop a few under load: stop waiting after 20 s.
  await Promise.race([kaFinished, new Promise((r) => setTimeout(r, 20_000))]);
  const kaSecs = (performance.now() - kaStart) / 1000;
  const after = await ask('stop');
  sock.close();
  const cpuS = cpuOf(stats);
  const kaCpu = cpuOf(after) - cpuS;
  console.log(
    JSON.stringify({
      devices,
      window,
      seconds: +secs.toFixed(2),
      registersPerSecond: Math.round(done / secs),
      failed,
      serverRegistered: stats.registered,
      serverCpuSeconds: +cpuS.toFixed(2),
      serverRegistersPerCpuSecond: Math.round(stats.registered / cpuS),
      keepalivesPerSecond: Math.round(kaDone / kaSecs),
      serverKeepalives: after.keepalives,
      serverKeepalivesPerCpuSecond: Math.round(after.keepalives / kaCpu),
    }),
  );
}
