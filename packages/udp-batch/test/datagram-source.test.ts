import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { formatIpv6 } from '../src/index.ts';

/** The 16 bytes of an IPv6 address, parsed independently of the code under test. */
function bytes(addr: string): Uint8Array {
  const sa = new net.SocketAddress({ address: addr, family: 'ipv6' });
  const [head, tail = ''] = sa.address.split('::');
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head!);
  const t = groups(tail);
  const all = sa.address.includes('::') ? [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}

test('formatIpv6() spells addresses as node:dgram does (RFC 5952)', () => {
  const cases: [Uint8Array, string][] = [
    [bytes('::1'), '::1'],
    [bytes('::'), '::'],
    [bytes('fe80::1:2'), 'fe80::1:2'],
    [bytes('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1'],
    [bytes('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2:3:4:5:6'],
    [bytes('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1'],
    [Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 7]), '::ffff:10.0.0.7'],
  ];
  for (const [b, want] of cases) assert.equal(formatIpv6(b), want);
});
