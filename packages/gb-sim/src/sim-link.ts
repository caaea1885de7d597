// What a simulated device sends through: a UDP socket (possibly shared by several devices) or
// its own TCP connection to the server.
import type { SipMessage } from './sip-codec.ts';

export interface PeerAddress {
  host: string;
  port: number;
}

export interface SimLink {
  readonly transport: 'udp' | 'tcp';
  /** Address put in Via and Contact. */
  readonly localHost: string;
  readonly localPort: number;
  /** Sends to `to` (UDP) or down the connection; defaults to the server. */
  send(data: Buffer, to?: PeerAddress): void;
  close(): Promise<void>;
}

export type LinkMessageHandler = (m: SipMessage, link: SimLink, from: PeerAddress) => void;
