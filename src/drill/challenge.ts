import { createHash } from 'node:crypto';

/**
 * The plug-in point for challenges: a legitimate client (and the challenge-solver bots) hands every
 * response to a solver; when it recognises a challenge it solves it through the same public
 * protocol the browser page uses, paying the same CPU, then the client retries the request.
 * The shield's challenge protocol is not published yet: `createPowSolver` implements the assumed
 * one (see docs/drill.md) and is replaced when the shield's lands.
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

export interface ChallengeSolver {
  /** True when `res` is a challenge this solver can answer. */
  detect(res: ChallengeResponse): boolean;
  /** Solves it; true when the server accepted the solution (clearance obtained, e.g. a cookie). */
  solve(res: ChallengeResponse, http: ChallengeHttp, signal?: AbortSignal): Promise<boolean>;
}

/** Assumed challenge description (JSON body or `rempart-challenge` header). */
export interface PowChallenge { seed: string; difficulty: number; verify: string }

/** Reads a proof-of-work challenge from a response, or null. */
export function parsePowChallenge(res: ChallengeResponse): PowChallenge | null {
  if (res.status !== 403 && res.status !== 429 && res.status !== 503 && res.status !== 401) return null;
  const header = res.headers['rempart-challenge'];
  const raw = Array.isArray(header) ? header[0] : header;
  try {
    const v = (raw ? JSON.parse(raw) : JSON.parse(res.body)?.challenge) as Partial<PowChallenge> | undefined;
    if (v && typeof v.seed === 'string' && typeof v.difficulty === 'number' && typeof v.verify === 'string'
      && v.difficulty >= 0 && v.difficulty <= 8) {
      return { seed: v.seed, difficulty: v.difficulty, verify: v.verify };
    }
  } catch { /* not a challenge */ }
  return null;
}

/**
 * Finds a nonce such that sha256(seed + nonce) starts with `difficulty` zero hex digits (the
 * Anubis-style scheme). Bounded by `maxIterations`; null when not found.
 */
export function solvePow(seed: string, difficulty: number, maxIterations = 50_000_000): string | null {
  const prefix = '0'.repeat(difficulty);
  for (let n = 0; n < maxIterations; n++) {
    const nonce = n.toString(36);
    if (createHash('sha256').update(seed + nonce).digest('hex').startsWith(prefix)) return nonce;
  }
  return null;
}

/** A solver for the assumed proof-of-work protocol: POST {seed, nonce} as JSON to `verify`. */
export function createPowSolver(): ChallengeSolver {
  return {
    detect: (res) => parsePowChallenge(res) !== null,
    async solve(res, http) {
      const ch = parsePowChallenge(res);
      if (!ch) return false;
      const nonce = solvePow(ch.seed, ch.difficulty);
      if (nonce === null) return false;
      const answer = await http.request('POST', ch.verify, { body: JSON.stringify({ seed: ch.seed, nonce }), contentType: 'application/json' });
      return answer.status >= 200 && answer.status < 400;
    },
  };
}
