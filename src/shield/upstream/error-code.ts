import { isRempartError, type ErrorCode } from '../../core/errors.js';

/** Maps an undici/socket error to a stable code: refused/reset → 502, timeouts → 504. */
export function upstreamErrorCode(err: unknown): ErrorCode {
  if (isRempartError(err)) return err.code;
  const code = (err as { code?: string } | null)?.code ?? '';
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return 'RMP_ERR_UPSTREAM_TIMEOUT';
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'RMP_ERR_UPSTREAM_REFUSED';
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_CLOSED':
      return 'RMP_ERR_UPSTREAM_RESET';
    default:
      if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'RMP_ERR_UPSTREAM_BAD_RESPONSE';
      return 'RMP_ERR_UPSTREAM_RESET';
  }
}
