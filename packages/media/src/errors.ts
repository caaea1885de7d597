export { InvalidStateError } from '@gb28181/common';

/** A listening port the media engine needs is taken; `setting` names the config key. */
export class PortInUseError extends Error {
  override name = 'PortInUseError';
  constructor(
    readonly setting: string,
    readonly port: number,
  ) {
    super(`${setting} ${port} is in use`);
  }
}

/** Every port of GB_RTP_PORTS is taken by an open stream or another process. */
export class PortPoolExhaustedError extends Error {
  override name = 'PortPoolExhaustedError';
  constructor(readonly range: readonly [number, number]) {
    super(`GB_RTP_PORTS ${range[0]}-${range[1]} has no free port`);
  }
}
