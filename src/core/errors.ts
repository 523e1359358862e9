/**
 * Every error Rempart reports has a stable code from this registry; the edge turns the code into
 * an HTTP status, logs carry the code, and operators can grep for it.
 */
export const ERRORS = {
  RMP_ERR_BAD_REQUEST: { status: 400, message: 'Bad Request' },
  RMP_ERR_HEADERS_TOO_LARGE: { status: 431, message: 'Request Header Fields Too Large' },
  RMP_ERR_HEADERS_TIMEOUT: { status: 408, message: 'Request Timeout' },
  RMP_ERR_BODY_TIMEOUT: { status: 408, message: 'Request Timeout' },
  RMP_ERR_BODY_TOO_SLOW: { status: 408, message: 'Request Timeout' },
  RMP_ERR_BODY_TOO_LARGE: { status: 413, message: 'Content Too Large' },
  /** A request body that fits neither the memory budget nor the disk spool budget now (or the spool write failed). */
  RMP_ERR_BODY_STORAGE: { status: 503, message: 'Service Unavailable' },
  RMP_ERR_VERSION: { status: 505, message: 'HTTP Version Not Supported' },
  RMP_ERR_METHOD: { status: 405, message: 'Method Not Allowed' },
  RMP_ERR_NO_ROUTE: { status: 404, message: 'Not Found' },
  RMP_ERR_RATE_LIMITED: { status: 429, message: 'Too Many Requests' },
  RMP_ERR_BLOCKED: { status: 403, message: 'Forbidden' },
  RMP_ERR_SHED: { status: 503, message: 'Service Unavailable' },
  RMP_ERR_UPSTREAM_REFUSED: { status: 502, message: 'Bad Gateway' },
  RMP_ERR_UPSTREAM_RESET: { status: 502, message: 'Bad Gateway' },
  RMP_ERR_UPSTREAM_BAD_RESPONSE: { status: 502, message: 'Bad Gateway' },
  RMP_ERR_UPSTREAM_TIMEOUT: { status: 504, message: 'Gateway Timeout' },
  RMP_ERR_UPSTREAM_BUSY: { status: 503, message: 'Service Unavailable' },
  RMP_ERR_QUEUE_TIMEOUT: { status: 503, message: 'Service Unavailable' },
  /** Every server of the upstream is down (ejected, probed down, drained or disabled). */
  RMP_ERR_UPSTREAM_DOWN: { status: 503, message: 'Service Unavailable' },
  /** An Upgrade the route does not accept (not WebSocket, or WebSocket off), or a malformed handshake. */
  RMP_ERR_UPGRADE: { status: 400, message: 'Bad Request' },
  /** Too many upgraded connections (per client or in total). */
  RMP_ERR_UPGRADE_LIMIT: { status: 503, message: 'Service Unavailable' },
  /** Too many event streams (Server-Sent Events) held, per client or in total (`eventStreams`). */
  RMP_ERR_STREAM_LIMIT: { status: 503, message: 'Service Unavailable' },
  RMP_ERR_CONFIG: { status: 500, message: 'Invalid configuration' },
  RMP_ERR_INTERNAL: { status: 500, message: 'Internal Server Error' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** An error carrying a stable Rempart code (and the original cause when wrapping). */
export class RempartError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly rempart = true;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'RempartError';
    this.code = code;
    this.status = ERRORS[code].status;
  }
}

/** True when `e` is a RempartError, even across module copies (no instanceof). */
export function isRempartError(e: unknown): e is RempartError {
  return typeof e === 'object' && e !== null && (e as { rempart?: unknown }).rempart === true
    && typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code in ERRORS;
}
