/** Use of an object (engine, stream, server, dialog) after close(). */
export class InvalidStateError extends Error {
  override name = 'InvalidStateError';
}
