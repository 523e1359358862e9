/**
 * The machine-readable challenge headers, as RFC 8941 dictionaries (integers bare, strings quoted):
 *   Rempart-Challenge: v=1, alg=sha256, bits=16, seed="…", exp=1764480000, verify="/.rempart/challenge/verify"
 *   Rempart-Challenge-Response: seed="…", counter=48213
 */

/** Request and response header names of the protocol (lower case, as node:http presents them). */
export const CHALLENGE_HEADERS = {
  challenge: 'rempart-challenge',
  response: 'rempart-challenge-response',
  clearance: 'rempart-clearance',
} as const;

/** A challenge as carried in the Rempart-Challenge header. */
export interface ChallengeDescription {
  readonly v: 1;
  readonly alg: 'sha256';
  readonly bits: number;
  readonly seed: string;
  /** Expiry of the challenge, s since the epoch. */
  readonly exp: number;
  /** Where a browser-style client may submit the answer (GET ?seed=&counter=). */
  readonly verify: string;
}

/** Formats the Rempart-Challenge header value. */
export function formatChallengeHeader(c: ChallengeDescription): string {
  return `v=${c.v}, alg=${c.alg}, bits=${c.bits}, seed="${c.seed}", exp=${c.exp}, verify="${c.verify}"`;
}

/** Formats the Rempart-Challenge-Response header value. */
export function formatChallengeResponse(seed: string, counter: number | string): string {
  return `seed="${seed}", counter=${counter}`;
}

// RFC 8941 §3.3.1 integer or §3.3.4 token.
const BARE = /^(-?\d{1,15}|[A-Za-z*][A-Za-z0-9!#$%&'*+.^_`|~:/-]*)$/;

/**
 * Parses a flat RFC 8941 dictionary of bare tokens/integers and quoted strings (no parameters,
 * no inner lists — all this protocol uses); undefined when malformed.
 */
export function parseDictionary(value: string | undefined): Record<string, string> | undefined {
  if (!value || value.length > 4_096) return undefined;
  const out: Record<string, string> = {};
  let i = 0;
  const n = value.length;
  const skipSpace = (): void => { while (i < n && (value[i] === ' ' || value[i] === '\t')) i++; };
  while (i < n) {
    skipSpace();
    const eq = value.indexOf('=', i);
    if (eq < 0) return undefined;
    const key = value.slice(i, eq).trim();
    if (!/^[a-z*][a-z0-9_.*-]*$/.test(key)) return undefined;
    i = eq + 1;
    let v: string;
    if (value[i] === '"') {
      const close = value.indexOf('"', i + 1);
      if (close < 0) return undefined;
      v = value.slice(i + 1, close);
      if (v.includes('\\')) return undefined; // our strings never need escapes
      i = close + 1;
    } else {
      const comma = value.indexOf(',', i);
      const end = comma < 0 ? n : comma;
      v = value.slice(i, end).trim();
      if (!BARE.test(v)) return undefined;
      i = end;
    }
    out[key] = v;
    skipSpace();
    if (i < n && value[i] !== ',') return undefined;
    i++;
  }
  return out;
}

/** Reads a Rempart-Challenge header value, or undefined when it is not one this version understands. */
export function parseChallengeHeader(value: string | undefined): ChallengeDescription | undefined {
  const d = parseDictionary(value);
  if (!d || d.v !== '1' || d.alg !== 'sha256' || !d.seed || !d.verify) return undefined;
  const bits = Number(d.bits);
  const exp = Number(d.exp);
  if (!Number.isInteger(bits) || bits < 0 || bits > 32 || !Number.isFinite(exp)) return undefined;
  return { v: 1, alg: 'sha256', bits, seed: d.seed, exp, verify: d.verify };
}

/** Reads a Rempart-Challenge-Response header value into seed and counter. */
export function parseChallengeResponse(value: string | undefined): { seed: string; counter: string } | undefined {
  const d = parseDictionary(value);
  return d?.seed && d.counter ? { seed: d.seed, counter: d.counter } : undefined;
}
