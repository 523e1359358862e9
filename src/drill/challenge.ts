import { parseChallengeHeader, solvePow, type ChallengeDescription } from '../shield/index.js';

/**
 * The plug-in point for challenges: a legitimate client (and the challenge-solver bots) hands every
 * response to a solver; when it recognises a challenge it solves it through the same public
 * protocol a browser uses (docs/challenge.md), paying the same number of hashes, then the client
 * retries the request.
 */
export interface ChallengeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  url: string;
}

/** The HTTP access a solver gets: the same browser (address, cookies, connections). */
export interface ChallengeHttp {
  request(method: string, path: string, init?: { body?: string; contentType?: string }): Promise<ChallengeResponse>;
}

/** Recognises and answers challenges on behalf of a client. */
export interface ChallengeSolver {
  /** True when `res` is a challenge this solver can answer. */
  detect(res: ChallengeResponse): boolean;
  /** Solves it; true when the server accepted the solution (clearance obtained, e.g. a cookie). */
  solve(res: ChallengeResponse, http: ChallengeHttp, signal?: AbortSignal): Promise<boolean>;
}

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/**
 * Reads the shield's proof-of-work challenge from a response: 429 (API clients) or 503 (the
 * browser interstitial, which carries the same header as its page), or null.
 */
export function parsePowChallenge(res: ChallengeResponse): ChallengeDescription | null {
  if (res.status !== 429 && res.status !== 503) return null;
  return parseChallengeHeader(first(res.headers['rempart-challenge'])) ?? null;
}

/** The same-origin target of the shield's no-JavaScript redirect (307 setting `rempart_nojs`), or null. */
export function nojsRedirectTarget(res: ChallengeResponse): string | null {
  if (res.status !== 307) return null;
  const cookies = res.headers['set-cookie'];
  const setsNojs = (Array.isArray(cookies) ? cookies : [cookies ?? '']).some((c) => c.startsWith('rempart_nojs='));
  const loc = first(res.headers.location);
  if (!setsNojs || !loc) return null;
  const url = new URL(loc, res.url);
  return url.origin === new URL(res.url).origin ? url.pathname + url.search : null;
}

/**
 * A solver for the shield's protocol, doing what the interstitial page does in a browser: follows
 * the no-JavaScript redirect with its cookie (clients that do not follow redirects themselves),
 * finds the counter for a proof-of-work challenge, submits it to the verify path with a GET and
 * keeps the clearance cookie the answer sets. Challenges above `maxBits` are given up.
 */
export function createPowSolver(opts: { maxBits?: number } = {}): ChallengeSolver {
  const maxBits = opts.maxBits ?? 24;
  return {
    detect: (res) => parsePowChallenge(res) !== null || nojsRedirectTarget(res) !== null,
    async solve(res, http, signal) {
      let current = res;
      for (let step = 0; step < 3 && !signal?.aborted; step++) {
        const next = nojsRedirectTarget(current);
        if (next !== null) {
          current = await http.request('GET', next);
          continue;
        }
        const ch = parsePowChallenge(current);
        if (!ch) return current.status < 400;
        if (ch.bits > maxBits) return false;
        const counter = solvePow(ch.seed, ch.bits);
        if (counter === undefined) return false;
        const answer = await http.request('GET', `${ch.verify}?seed=${encodeURIComponent(ch.seed)}&counter=${counter}`);
        return answer.status >= 200 && answer.status < 400 && parsePowChallenge(answer) === null;
      }
      return false;
    },
  };
}
