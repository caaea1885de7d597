// The few error kinds a caller of sip-core must tell apart.

export { InvalidStateError } from '@gb28181/common';

/** The peer answered a request with a final non-2xx response. */
export class SipResponseError extends Error {
  override name = 'SipResponseError';
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly method: string,
  ) {
    super(`${method} answered ${status} ${reason}`.trim());
  }
}

/** A client transaction got no final response before timer B/F fired (or the caller's timeout). */
export class SipTimeoutError extends Error {
  override name = 'SipTimeoutError';
  constructor(readonly method: string, readonly afterMs: number) {
    super(`${method}: no final response within ${afterMs} ms`);
  }
}

/** A request could not be delivered (TCP connection refused or broken). */
export class SipTransportError extends Error {
  override name = 'SipTransportError';
  constructor(readonly method: string, readonly detail: string) {
    super(`${method}: could not reach the device (${detail})`);
  }
}

/** A MANSCDP query got no (or no complete) answer in time. */
export class QueryTimeoutError extends Error {
  override name = 'QueryTimeoutError';
  constructor(readonly deviceId: string, readonly cmdType: string, readonly afterMs: number) {
    super(`${cmdType} query to ${deviceId}: no answer within ${afterMs} ms`);
  }
}

/** The device is not registered, so it cannot be addressed. */
export class DeviceNotRegisteredError extends Error {
  override name = 'DeviceNotRegisteredError';
  constructor(readonly deviceId: string) {
    super(`device ${deviceId} is not registered`);
  }
}
