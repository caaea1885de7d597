export { TypedEmitter, type EventMap } from './typed-emitter.ts';
export { InvalidStateError } from './errors.ts';
export { startWorker } from './ts-worker.ts';
