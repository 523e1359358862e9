/**
 * The drill is an independent client of the challenge protocol as docs/challenge.md describes it:
 * it shares no code with the shield (so it also checks the document), and loading it costs
 * nothing (the drill's solver threads import this module).
 */

/** A proof-of-work challenge as read from the Rempart-Challenge header. */
export interface PowChallenge { bits: number; seed: string; verify: string }

const K = Int32Array.from([0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d,
  0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
const W = new Int32Array(64);

// One SHA-256 block (FIPS 180-4 §6.2.2) of the words M[o..o+15] into state H.
function compress(H: Int32Array, M: Int32Array, o: number): void {
  for (let i = 0; i < 16; i++) W[i] = M[o + i]!;
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15]!, b = W[i - 2]!;
    W[i] = (W[i - 16]! + ((a >>> 7 | a << 25) ^ (a >>> 18 | a << 14) ^ (a >>> 3)) + W[i - 7]! + ((b >>> 17 | b << 15) ^ (b >>> 19 | b << 13) ^ (b >>> 10))) | 0;
  }
  let a = H[0]!, b = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!, f = H[5]!, g = H[6]!, h = H[7]!;
  for (let i = 0; i < 64; i++) {
    const t1 = (h + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7)) + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const t2 = (((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  H[0] = (H[0]! + a) | 0; H[1] = (H[1]! + b) | 0; H[2] = (H[2]! + c) | 0; H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0; H[5] = (H[5]! + f) | 0; H[6] = (H[6]! + g) | 0; H[7] = (H[7]! + h) | 0;
}

function toWords(bytes: Uint8Array, words: Int32Array, n: number): void {
  for (let i = 0, j = 0; i < n; i++, j += 4) words[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
}

/**
 * Finds the smallest counter such that SHA-256(`seed:counter`) starts with `bits` zero bits, as the
 * browser page does (the seed's full blocks hashed once, then the last one or two per counter);
 * undefined after `maxTries`.
 */
export function solvePow(seed: string, bits: number, maxTries = 2 ** 32): number | undefined {
  const prefix = Buffer.from(`${seed}:`, 'latin1');
  const mid = Int32Array.from(IV);
  const words = new Int32Array(32);
  const bytes = new Uint8Array(128);
  const H = new Int32Array(8);
  const full = prefix.length - (prefix.length & 63);
  for (let o = 0; o < full; o += 64) { toWords(prefix.subarray(o, o + 64), words, 16); compress(mid, words, 0); }
  const rest = prefix.length - full;
  bytes.set(prefix.subarray(full));
  const zeroWords = bits >> 5;
  const spare = 32 - (bits & 31);
  outer: for (let c = 0; c < maxTries; c++) {
    const digits = String(c);
    let p = rest;
    for (let i = 0; i < digits.length; i++) bytes[p++] = digits.charCodeAt(i);
    bytes[p] = 0x80;
    const total = ((p + 9 + 63) >> 6) << 6;
    const n = total >> 2;
    bytes.fill(0, p + 1, total);
    toWords(bytes, words, n);
    words[n - 1] = (prefix.length + digits.length) * 8;
    H.set(mid);
    for (let o = 0; o < n; o += 16) compress(H, words, o);
    for (let i = 0; i < zeroWords; i++) if (H[i] !== 0) continue outer;
    if (spare === 32 || (H[zeroWords]! >>> spare) === 0) return c;
  }
  return undefined;
}

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
export function parsePowChallenge(res: ChallengeResponse): PowChallenge | null {
  if (res.status !== 429 && res.status !== 503) return null;
  const h = first(res.headers['rempart-challenge']);
  if (!h || !/(^|,)\s*v=1\s*(,|$)/.test(h) || !/(^|,)\s*alg=sha256\s*(,|$)/.test(h)) return null;
  const bits = /(?:^|,)\s*bits=(\d{1,2})\s*(?:,|$)/.exec(h);
  const seed = /(?:^|,)\s*seed="([^"]+)"/.exec(h);
  const verify = /(?:^|,)\s*verify="(\/[^"]*)"/.exec(h);
  return bits && seed && verify ? { bits: Number(bits[1]), seed: seed[1]!, verify: verify[1]! } : null;
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
