import type { DataSource } from 'typeorm';
import { ChannelEntity, DeviceEntity, type ChannelRow, type DeviceRow } from '../storage/entities.ts';
import type { StreamTransport } from './play-dependencies.ts';

export interface ChannelTarget {
  deviceId: string;
  channelId: string;
  streamMode: StreamTransport;
}

const modes: readonly StreamTransport[] = ['udp', 'tcp-passive', 'tcp-active'];

/** Which device a channel belongs to and how that device sends media. */
export async function resolveChannel(db: DataSource, channelId: string): Promise<ChannelTarget | null> {
  const channel = await db.getRepository<ChannelRow>(ChannelEntity).findOne({ where: { channelid: channelId } });
  // An IPC is often played by its own device id (it is its only channel).
  const deviceId = channel?.deviceid ?? channelId;
  const device = await db.getRepository<DeviceRow>(DeviceEntity).findOne({ where: { deviceid: deviceId } });
  if (!device) return null;
  const mode = modes.includes(device.stream_mode as StreamTransport) ? (device.stream_mode as StreamTransport) : 'tcp-passive';
  return { deviceId, channelId, streamMode: mode };
}
