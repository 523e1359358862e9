/**
 * Stable error codes of the authorize service (its own registry, beside src/core/errors.ts):
 * the HTTP edge turns a code into a status, logs and the audit carry the code.
 */
export const AUTH_ERRORS = {
  RMP_ERR_AUTH_BAD_REQUEST: { status: 400, message: 'Bad Request' },
  RMP_ERR_AUTH_UNAUTHORIZED: { status: 401, message: 'Unauthorized' },
  RMP_ERR_AUTH_NOT_FOUND: { status: 404, message: 'Not Found' },
  RMP_ERR_AUTH_METHOD: { status: 405, message: 'Method Not Allowed' },
  // RTS (EU) 2018/389 art. 4(3)(a): one code for every failed element, never which one.
  RMP_ERR_AUTH_FAILED: { status: 403, message: 'Authentication failed' },
  RMP_ERR_AUTH_LOCKED: { status: 423, message: 'Payer is blocked' },
  RMP_ERR_AUTH_TERMINAL: { status: 409, message: 'Authentication is already finished' },
  RMP_ERR_AUTH_CONFLICT: { status: 409, message: 'Concurrent update: another request won' },
  RMP_ERR_AUTH_WRONG_STATE: { status: 409, message: 'Not allowed in the current state' },
  RMP_ERR_AUTH_TX_EXISTS: { status: 409, message: 'An authentication for this transaction is in progress' },
  RMP_ERR_AUTH_IDEMPOTENCY_MISMATCH: { status: 422, message: 'Idempotency-Key reused with a different request' },
  RMP_ERR_AUTH_IDEMPOTENCY_IN_FLIGHT: { status: 409, message: 'A request with this Idempotency-Key is in progress' },
  RMP_ERR_AUTH_RATE_LIMITED: { status: 429, message: 'Too Many Requests' },
  RMP_ERR_AUTH_RESENDS_EXHAUSTED: { status: 409, message: 'No resend left' },
  RMP_ERR_AUTH_PAYER_UNKNOWN: { status: 404, message: 'Unknown payer' },
  RMP_ERR_AUTH_BODY_TOO_LARGE: { status: 413, message: 'Content Too Large' },
  RMP_ERR_AUTH_APPROVAL_PENDING: { status: 202, message: 'Accepted: waiting for a second operator' },
  RMP_ERR_AUTH_SAME_OPERATOR: { status: 409, message: 'A second, distinct operator must approve' },
  RMP_ERR_AUTH_INTERNAL: { status: 500, message: 'Internal Server Error' },
} as const;

export type AuthErrorCode = keyof typeof AUTH_ERRORS;

/** An error with a stable authorize code, keeping `cause` when wrapping. */
export class AuthorizeError extends Error {
  readonly code: AuthErrorCode;
  readonly status: number;
  readonly rempart = true;
  constructor(code: AuthErrorCode, message?: string, readonly details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message ?? AUTH_ERRORS[code].message, options);
    this.name = 'AuthorizeError';
    this.code = code;
    this.status = AUTH_ERRORS[code].status;
  }
}

/** True when `e` is an AuthorizeError (no instanceof: works across module copies). */
export function isAuthorizeError(e: unknown): e is AuthorizeError {
  return typeof e === 'object' && e !== null && (e as { rempart?: unknown }).rempart === true
    && typeof (e as { code?: unknown }).code === 'string' && (e as { code: string }).code in AUTH_ERRORS;
}
