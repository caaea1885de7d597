// Who we are on the wire: the pieces every request we originate needs (Via with a fresh branch,
// Contact, From URI, Call-ID, a CSeq counter), in one place for queries and dialogs alike.
import { randomBytes } from 'node:crypto';
import type { SipNameAddr, SipVia } from 'sip';
import { newBranch } from './transaction-client.ts';
import type { SipTransportName } from './types.ts';

export const USER_AGENT = 'gb28181-gateway';

let tagCounter = 0;
const tagPrefix = Math.floor(Math.random() * 0x7fffffff).toString(36);
/** A From/To tag: unique per process, cheap enough for every REGISTER answer. */
export function newTag(): string {
  return tagPrefix + (++tagCounter).toString(36);
}

export class LocalEndpoint {
  readonly domain: string;
  /** `sip:<serverId>@<domain>`: our From URI. */
  readonly uri: string;
  #cseq = Math.floor(Math.random() * 10000) + 1;

  constructor(
    readonly serverId: string,
    readonly publicIp: string,
    private readonly portOf: () => number,
  ) {
    this.domain = serverId.slice(0, 10);
    this.uri = `sip:${serverId}@${this.domain}`;
  }

  via(transport: SipTransportName): SipVia[] {
    return [{ version: '2.0', protocol: transport.toUpperCase(), host: this.publicIp, port: this.portOf(), params: { rport: null, branch: newBranch() } }];
  }

  contact(): SipNameAddr[] {
    return [{ uri: `sip:${this.serverId}@${this.publicIp}:${this.portOf()}`, params: {} }];
  }

  nextCseq(): number {
    this.#cseq = this.#cseq >= 2_000_000_000 ? 1 : this.#cseq + 1;
    return this.#cseq;
  }

  newCallId(): string {
    return `${randomBytes(12).toString('hex')}@${this.publicIp}`;
  }
}
