export { createSimulator, Simulator, deviceIdAt, channelIdsFor, type SimulatorOptions, type SimulatorStats, type SimulatorEvents } from './simulator.ts';
export { SimulatedDevice, RegisterError, type SimulatedDeviceOptions, type SimulatedDeviceEvents, type DeviceQuirks, type CallHandler } from './simulated-device.ts';
export { SipTimeoutError, type SipTimers } from './client-transactions.ts';
export type { CatalogChannel, DeviceCharset } from './manscdp.ts';
export { startSipp, sippAvailable, freePort, SIPP_PATH, type SippRun, type SippProcess } from './sipp-runner.ts';
export { createMediaCalls, MediaCalls, type MediaCallsOptions, type MediaCallsStats } from './media-calls.ts';
export { parseSdpOffer, buildSdpAnswer, type SdpOffer, type MediaTransport } from './sdp.ts';
