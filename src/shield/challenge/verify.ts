import { CHALLENGE_HEADERS } from './header.js';
import { checkPowSolution, type PowRejection } from './pow.js';
import { isNavigation, returnPath } from './request.js';
import { mintClearance, type ClientBinding, type PlainResponse } from './responses.js';
import { CHALLENGE_PATHS, type ChallengeSettings } from './settings.js';

/** A request to the verify path, as plain values. */
export interface VerifyRequest extends ClientBinding {
  readonly method: string;
  /** Origin-form target (`/.rempart/challenge/verify?seed=…&counter=…`). */
  readonly target: string;
  /** Body of a POST (application/x-www-form-urlencoded), at most a few KiB: the caller caps it. */
  readonly body?: string;
  readonly accept: string | undefined;
  readonly secFetchMode: string | undefined;
}

/** The answer to a verify request, plus what happened for logs and metrics. */
export interface VerifyOutcome extends PlainResponse {
  readonly ok: boolean;
  readonly reason?: PowRejection | 'missing' | 'method';
  /** Id of the clearance issued (its rate-limit key is `clr:<id>`). */
  readonly clearanceId?: string;
}

/** True when `path` (without query) is the reserved verify path: the request filter answers it with handleVerify. */
export function isVerifyPath(path: string): boolean {
  return path === CHALLENGE_PATHS.verify;
}

/**
 * Answers the reserved verify path. A navigation that solved its challenge gets 303 to the
 * challenge's return path with the clearance cookie (RFC 9110 §15.4.4: the browser follows with a
 * GET); an API client gets 200 JSON with the cookie and the Rempart-Clearance header. An expired
 * challenge sends a browser back to its page for a fresh one; other failures get 403.
 * @example
 * if (isVerifyPath(ctx.path)) return respondPlain(handleVerify({ method, target, accept, secFetchMode, prefix, fingerprint, secure, now, body }, settings));
 */
export function handleVerify(req: VerifyRequest, settings: ChallengeSettings): VerifyOutcome {
  const nav = isNavigation(req.accept, req.secFetchMode);
  const fail = (status: number, reason: VerifyOutcome['reason'], message: string, extra: Record<string, string> = {}): VerifyOutcome => ({
    ok: false, ...(reason ? { reason } : {}), status,
    headers: { 'content-type': nav ? 'text/plain; charset=utf-8' : 'application/json', 'cache-control': 'no-store', ...extra },
    body: nav ? `${message}\n` : JSON.stringify({ error: 'challenge-refused', reason }),
  });
  if (req.method !== 'GET' && req.method !== 'POST') return fail(405, 'method', 'Use GET or POST.', { allow: 'GET, POST' });
  const q = req.target.indexOf('?');
  const params = new URLSearchParams(req.method === 'POST' && req.body !== undefined ? req.body : q < 0 ? '' : req.target.slice(q + 1));
  const seed = params.get('seed');
  const counter = params.get('counter');
  if (!seed || !counter) return fail(400, 'missing', 'This address only receives answers to the browser check.');

  const solved = checkPowSolution(seed, counter, settings.keys, req.now, req);
  if (!solved.ok) {
    if (solved.reason === 'expired' && nav && solved.challenge) {
      return { ok: false, reason: 'expired', status: 303, headers: { location: returnPath(solved.challenge.r ?? '/'), 'cache-control': 'no-store', 'content-length': '0' }, body: '' };
    }
    return fail(403, solved.reason, 'The answer to the browser check was not accepted. Go back and reload the page to try again.');
  }
  const clearance = mintClearance(solved.challenge, req, settings);
  const id = clearance.payload.id ?? '';
  if (nav) {
    return {
      ok: true, clearanceId: id, status: 303,
      headers: { location: returnPath(solved.challenge.r ?? '/'), 'set-cookie': clearance.setCookie, 'cache-control': 'no-store', 'content-length': '0' },
      body: '',
    };
  }
  return {
    ok: true, clearanceId: id, status: 200,
    headers: { 'set-cookie': clearance.setCookie, [CHALLENGE_HEADERS.clearance]: clearance.token, 'cache-control': 'no-store', 'content-type': 'application/json' },
    body: JSON.stringify({ ok: true, clearance: clearance.token, expires: clearance.payload.exp }),
  };
}
