import { PlayError } from '../play/play-errors.ts';

// One table of API failure kinds -> HTTP status and gosip envelope code. Routes throw ApiError with
// a kind; nothing else decides statuses, so the table (tested as a table) is the whole contract.

export const apiErrors = {
  badRequest: { status: 400, code: '1002' },
  unauthorized: { status: 401, code: '1000' },
  notFound: { status: 404, code: '1002' },
  methodNotAllowed: { status: 405, code: '1002' },
  conflict: { status: 409, code: '1002' },
  deviceFailed: { status: 502, code: '1002' },
  deviceTimeout: { status: 504, code: '1002' },
  storageUnavailable: { status: 503, code: '1001' },
  serviceUnavailable: { status: 503, code: '1003' },
  internal: { status: 500, code: '1003' },
} as const satisfies Record<string, { status: number; code: string }>;

export type ApiErrorKind = keyof typeof apiErrors;

export const okCode = '0';

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  constructor(kind: ApiErrorKind, message: string) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
  }
  get status(): number {
    return apiErrors[this.kind].status;
  }
  get code(): string {
    return apiErrors[this.kind].code;
  }
}

// Driver errors that mean "the database is not reachable" rather than "this query is wrong".
const storageDownCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'SQLITE_BUSY',
  'SQLITE_CANTOPEN',
  'SQLITE_IOERR',
]);
const storageDownNames = new Set(['ConnectionIsNotSetError', 'CannotExecuteNotConnectedError', 'ConnectionNotFoundError']);

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; driverError?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (e.driverError) return errorCode(e.driverError);
  return undefined;
}

export function isStorageUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (storageDownNames.has(err.name) || storageDownNames.has(err.constructor.name)) return true;
  const code = errorCode(err);
  if (code && storageDownCodes.has(code)) return true;
  return /pool is closed|connection is not (established|open)|database connection is not open|The database connection is not open/i.test(err.message);
}

export function isUniqueViolation(err: unknown): boolean {
  const code = errorCode(err);
  if (code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return true;
  return err instanceof Error && /UNIQUE constraint failed|Duplicate entry/i.test(err.message);
}

/** Maps anything thrown inside a request to what the client may see: never driver or SQL text. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof PlayError) return fromPlayError(err);
  if (isStorageUnavailable(err)) return new ApiError('storageUnavailable', 'storage unavailable');
  return new ApiError('internal', 'internal error');
}

const kindByStatus = new Map<number, ApiErrorKind>((Object.entries(apiErrors) as [ApiErrorKind, { status: number }][]).map(([k, v]) => [v.status, k]));
kindByStatus.set(503, 'serviceUnavailable'); // a play refused while shutting down is not a storage outage

/** The play service words its errors for API clients already; only the status needs mapping. */
export function fromPlayError(err: PlayError): ApiError {
  return new ApiError(kindByStatus.get(err.status) ?? 'internal', err.message);
}

/** Rethrows a failure of a device request (play, catalog, records) as what a client may learn. */
export function deviceFailure(what: string, err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof PlayError) return fromPlayError(err);
  return new ApiError(/timeout/i.test((err as { name?: string })?.name ?? '') ? 'deviceTimeout' : 'deviceFailed', `${what} failed: ${describeDeviceFailure(err)}`);
}

/** What a client may learn about a failed device request: the kind of failure, not SIP text. */
export function describeDeviceFailure(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  const e = err as { name?: unknown; status?: unknown };
  const name = typeof e?.name === 'string' ? e.name : '';
  if (/timeout/i.test(name)) return 'the device did not answer in time';
  if (name === 'SipResponseError' && typeof e.status === 'number') return `the device answered ${e.status}`;
  return 'the device request failed';
}
