import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import pino from 'pino';
import sip from 'sip';
import type { SipMessage } from 'sip';
import { ClientTransactions, newBranch } from '../src/transaction-client.ts';
import { SipTransport } from '../src/transport.ts';
import { SipTimeoutError } from '../src/errors.ts';

const logger = pino({ level: 'silent' });

async function setup(timers: { T1: number; T2: number; timeout: number }) {
  let client!: ClientTransactions;
  const transport = await SipTransport.listen('127.0.0.1', 0, ({ msg }) => client.onResponse(msg), logger);
  client = new ClientTransactions(transport, timers);
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
  const arrivals: { at: number; m: SipMessage }[] = [];
  peer.on('message', (b) => arrivals.push({ at: performance.now(), m: sip.parse(b.toString('latin1'))! }));
  return { transport, client, peer, arrivals, to: { host: '127.0.0.1', port: peer.address().port, transport: 'udp' as const } };
}

function request(method: string, port: number): SipMessage {
  return {
    method,
    uri: `sip:dev@127.0.0.1:${port}`,
    version: '2.0',
    headers: {
      via: [{ version: '2.0', protocol: 'UDP', host: '127.0.0.1', port: 5060, params: { branch: newBranch() } }],
      from: { uri: 'sip:s@d', params: { tag: 't' } },
      to: { uri: 'sip:dev@d', params: {} },
      'call-id': 'x@y',
      cseq: { seq: 1, method },
    },
  };
}

test('a UDP client transaction retransmits from T1 doubling up to T2, then gives up with SipTimeoutError', async () => {
  const { transport, client, peer, arrivals, to } = await setup({ T1: 40, T2: 160, timeout: 1000 });
  try {
    const t0 = performance.now();
    await assert.rejects(client.request(request('MESSAGE', to.port), to), SipTimeoutError);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 990 && elapsed < 2500, `gave up after ${elapsed} ms`);
    // Copies are due at 0, 40, 120, 280, 440, 600, 760, 920 ms: T1 doubling, then capped at T2.
    // Load can delay a copy but never make it early, so each arrival is checked against its due time
    // measured from the start (gaps between two arrivals can shrink when the earlier one was late).
    const due = [0, 40, 120, 280, 440, 600, 760, 920];
    assert.ok(arrivals.length >= 5 && arrivals.length <= 8, `${arrivals.length} copies`);
    const since = arrivals.map((a) => a.at - t0);
    since.forEach((ms, k) => assert.ok(ms >= due[k]! - 5, `copy ${k} at ${ms.toFixed(1)} ms, due at ${due[k]} ms`));
    // ...and the doubling stops at T2: after the 4th copy the interval is 160 ms, where uncapped
    // doubling would wait 320 ms. Load stretches intervals, so the shortest of them is the witness.
    const capped = since.slice(4).map((ms, k) => ms - since[k + 3]!);
    assert.ok(Math.min(...capped) < 300, `intervals after the 4th copy: ${capped.map((g) => g.toFixed(0)).join(', ')} ms`);
  } finally {
    peer.close();
    await transport.close();
  }
});

test('a provisional response stops INVITE retransmissions and the final response resolves the transaction', async () => {
  const { transport, client, peer, arrivals, to } = await setup({ T1: 30, T2: 120, timeout: 2000 });
  try {
    const rq = request('INVITE', to.port);
    const pending = client.request(rq, to);
    await new Promise((r) => setTimeout(r, 5));
    const trying = sip.makeResponse(rq, 100, 'Trying');
    peer.send(sip.stringify(trying), transport.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    const copies = arrivals.length;
    assert.ok(copies <= 2, `${copies} INVITE copies after a 100`);
    const ok = sip.makeResponse(rq, 200, 'OK');
    peer.send(sip.stringify(ok), transport.port, '127.0.0.1');
    const rs = await pending;
    assert.equal(rs.status, 200);
  } finally {
    peer.close();
    await transport.close();
  }
});
