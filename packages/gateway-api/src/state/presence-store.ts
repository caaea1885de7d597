import type { PresenceRecord, SharedState } from './shared-state.ts';

// sip-core's PresenceStore (docs/architecture.md) over SharedState. sip-core already batches its
// presence changes (presenceFlushMs), so each call is one pipelined write; reads never scan.
// Declared structurally here so gateway-api does not need sip-core's internals to type-check.

export interface PresenceStoreEntry {
  deviceId: string;
  host: string;
  port: number;
  transport: 'udp' | 'tcp';
  lastSeen: number;
  expiresAt: number;
}

export interface SharedPresenceStore {
  setOnline(entries: PresenceStoreEntry[]): Promise<void>;
  setOffline(deviceIds: string[]): Promise<void>;
  /** the live record of each device that is online on any node */
  online(deviceIds: string[]): Promise<Map<string, PresenceRecord>>;
}

export function createPresenceStore(state: SharedState): SharedPresenceStore {
  return {
    async setOnline(entries) {
      // each record expires with the registration it describes
      await state.presence.set(entries);
    },
    async setOffline(deviceIds) {
      if (deviceIds.length === 0) return;
      await state.presence.delete(deviceIds);
    },
    online(deviceIds) {
      return state.presence.many(deviceIds);
    },
  };
}
