import { FLAG_IPV6, META_FIELDS } from './native-binding.ts';

/** A source address kept for cheap comparison with later datagrams (no string per datagram). */
export interface SourceKey {
  readonly ipv6: boolean;
  readonly port: number;
  readonly words: readonly [number, number, number, number];
}

/**
 * Where the datagram being handled came from. One object per thread, rewritten for every datagram:
 * read it inside the handler, keep `key()` or `address` if it must outlive the call.
 */
export class DatagramSource {
  readonly #meta: Uint32Array;
  readonly #bytes: Uint8Array;
  #at = 0;

  constructor(meta: ArrayBuffer) {
    this.#meta = new Uint32Array(meta);
    this.#bytes = new Uint8Array(meta);
  }

  /** @internal points the view at entry `index` of the metadata table */
  select(index: number): void {
    this.#at = index * META_FIELDS;
  }

  get port(): number {
    return this.#meta[this.#at + 3]! & 0xffff;
  }

  get ipv6(): boolean {
    return ((this.#meta[this.#at + 3]! >>> 16) & FLAG_IPV6) !== 0;
  }

  /** The address as node:dgram spells it ('127.0.0.1', '::1', '::ffff:10.0.0.1'). Builds a string: not per datagram. */
  get address(): string {
    const b = this.#bytes.subarray((this.#at + 4) * 4, (this.#at + 8) * 4);
    return this.ipv6 ? formatIpv6(b) : `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  }

  key(): SourceKey {
    const m = this.#meta;
    const a = this.#at;
    return { ipv6: this.ipv6, port: this.port, words: [m[a + 4]!, m[a + 5]!, m[a + 6]!, m[a + 7]!] };
  }

  is(k: SourceKey): boolean {
    const m = this.#meta;
    const a = this.#at;
    return (
      (m[a + 3]! & 0xffff) === k.port &&
      m[a + 4] === k.words[0] &&
      m[a + 5] === k.words[1] &&
      m[a + 6] === k.words[2] &&
      m[a + 7] === k.words[3] &&
      this.ipv6 === k.ipv6
    );
  }
}

/** RFC 5952 text (what inet_ntop and so node:dgram print), IPv4-mapped addresses as ::ffff:a.b.c.d. */
export function formatIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  // the longest run of two or more zero groups becomes '::' (the first one on a tie)
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}
