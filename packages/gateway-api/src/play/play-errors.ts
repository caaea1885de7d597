// Errors a REST caller must tell apart. `status` is the HTTP status the API should answer with;
// `step` names the part of a play that failed (kept on the stream's diagnosis too).

export type PlayStep = 'lookup' | 'ssrc' | 'port' | 'invite' | 'connect' | 'media' | 'records';

export class PlayError extends Error {
  readonly status: number;
  readonly step?: PlayStep;
  constructor(message: string, opts: { status: number; step?: PlayStep; cause?: unknown }) {
    super(message, { cause: opts.cause });
    this.name = 'PlayError';
    this.status = opts.status;
    this.step = opts.step;
  }
}

export class NotFoundError extends PlayError {
  constructor(message: string) {
    super(message, { status: 404, step: 'lookup' });
    this.name = 'NotFoundError';
  }
}
