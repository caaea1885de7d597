export { UdpBatchSocket, udpBatchAvailable, udpBatchUnavailableReason, type UdpBatchSocketOptions, type UdpBatchSocketStats } from './udp-batch-socket.ts';
export { DatagramSource, formatIpv6, type SourceKey } from './datagram-source.ts';
