// Public API of @gb28181/sip-core (docs/architecture.md).
export { createSipServer, SipServer, DEFAULT_TIMERS, localTime } from './sip-server.ts';
export { Dialog, type DialogEvents } from './dialog.ts';
export { InvalidStateError, SipResponseError, SipTimeoutError, SipTransportError, QueryTimeoutError, DeviceNotRegisteredError } from './errors.ts';
export { TypedEmitter } from '@gb28181/common';
export { buildOffer, parseAnswer, SdpError } from './sdp.ts';
export { gbDate } from './registrar.ts';
export { ptzCommand, type PtzMove, type PtzPreset } from './ptz.ts';
export { createNonce, checkNonce, ha1, digestResponse } from './digest.ts';
export { decodeManscdp, decodeBodyText, encodeManscdp, ManscdpError, type ManscdpMessage } from './manscdp-codec.ts';
export type {
  CatalogItem,
  CatalogResult,
  Charset,
  DeviceCredentials,
  DeviceCredentialStore,
  DeviceInfo,
  DeviceStatus,
  DialogState,
  InviteOptions,
  MediaTransport,
  ParsedSdp,
  PresenceEntry,
  PresenceStore,
  QueryOptions,
  RecordItem,
  RegisteredDevice,
  SipServerEventMap,
  SipServerEvents,
  SipServerOptions,
  SipTimers,
  SipTransportName,
} from './types.ts';
