// Device ids and passwords shared by the registration benchmark's driver and server.
export const SERVER_ID = '34020000002000000001';
export const DOMAIN = SERVER_ID.slice(0, 10);
export const FIRST_DEVICE_ID = '34020000001320000001';

export function benchDeviceIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${FIRST_DEVICE_ID.slice(0, 13)}${String(i + 1).padStart(7, '0')}`);
}

/** Distinct per device so a mixed-up credential fails loudly. */
export function benchPassword(deviceId: string): string {
  return `pw${deviceId.slice(-7)}`;
}
