// The real SIP server of @gb28181/sip-core on 127.0.0.1 (ephemeral port) with in-memory credentials.
import { createSipServer, type SipServer } from '@gb28181/sip-core';

export const SERVER_ID = '34020000002000000001';

export async function startServer(o: { passwords: Record<string, string> | ((id: string) => string | undefined); catalogOnRegister?: boolean }): Promise<SipServer> {
  const lookup = typeof o.passwords === 'function' ? o.passwords : (id: string) => (o.passwords as Record<string, string>)[id];
  return createSipServer({
    serverId: SERVER_ID, host: '127.0.0.1', port: 0, publicIp: '127.0.0.1', registerPolicy: 'known', keepaliveTimeoutS: 180,
    nonceSecret: 'test-secret', catalogOnRegister: o.catalogOnRegister ?? false,
    credentials: {
      async lookup(deviceId) {
        const password = lookup(deviceId);
        return password === undefined ? null : { deviceId, password };
      },
    },
  });
}

export function waitFor<T>(check: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const poll = () => {
      const v = check();
      if (v) return resolve(v);
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}
