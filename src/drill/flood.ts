import { Pool } from 'undici';
import { applySetCookie } from './browser.js';
import type { ChallengeResponse, ChallengeSolver } from './challenge.js';
import type { BrowserIdentity } from './headers.js';
import type { AttackEnv } from './attack-env.js';
import { createAttackCounters, recordAnswer, recordSent, type AttackCounters } from './metrics.js';
import type { Rng } from './rng.js';

/** One attacking source: its address, its connections, its cookies (for clearance), its browser identity. */
export interface FloodSource {
  index: number;
  address: string | undefined;
  identity: BrowserIdentity;
  cookies: Map<string, string>;
  inFlight: number;
  pool: Pool | null;
}

export interface FloodRequest { method: string; path: string; headers: Record<string, string>; body?: string }

/** An open-loop request flood spread round-robin over its sources. */
export interface FloodSpec {
  label: string;
  sources: number;
  /** Connections each source keeps (concurrency cap per source: a busy source skips its turn). */
  connectionsPerSource: number;
  /** Total requested rate, requests/s, while the schedule says 1. */
  ratePerS: number;
  /** Rate multiplier in [0, 1] at run time t (seconds); absent = always 1. */
  schedule?: (tS: number) => number;
  startS: number;
  stopS: number;
  /** Builds the next request for `source` (paths, headers, body). */
  request(rng: Rng, source: FloodSource): FloodRequest;
  /** Bots that obtain a clearance once through the challenge interface, then flood with it. */
  solver?: ChallengeSolver;
  /** Per-request timeout, ms. */
  timeoutMs?: number;
}

/** A flood's environment: the run's sources and the target origin. */
export interface FloodEnv extends AttackEnv {
  origin: string;
}

export interface RunningFlood {
  counters: AttackCounters;
  /** Challenges solved by the bots (challenge-solver scenario). */
  solved: number;
  /** Resolves when the flood stopped and its requests settled (or were destroyed). */
  done: Promise<void>;
  sourceAddresses: string[];
}

const TICK_MS = 10;

function poolFor(origin: string, src: FloodSource, conns: number): Pool {
  src.pool ??= new Pool(origin, {
    connections: conns, pipelining: 1, keepAliveTimeout: 30_000,
    ...(src.address ? { localAddress: src.address } : {}),
  });
  return src.pool;
}

const errorKey = (err: unknown): string => {
  const code = (err as { code?: string } | null)?.code;
  if (code?.includes('TIMEOUT')) return 'timeout';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'reset';
  if (code === 'ECONNREFUSED') return 'refused';
  return 'error';
};

/**
 * Starts a flood. Every tick it computes how many requests the schedule asked for so far; a request
 * is sent only on a free connection of the next source. Requests that could not be sent are counted
 * as not sent (busy source or generator behind schedule), never as sent.
 */
export function startFlood(spec: FloodSpec, env: FloodEnv): RunningFlood {
  const counters = createAttackCounters(spec.label, 'flood', env.seconds);
  const sources: FloodSource[] = env.addresses.map((address, index) => ({
    index, address, identity: env.identities[index % env.identities.length]!, cookies: new Map(), inFlight: 0, pool: null,
  }));
  const order = sources.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) { const j = env.rng.int(0, i); [order[i], order[j]] = [order[j]!, order[i]!]; }
  let cursor = 0;
  let owed = 0;
  let issued = 0;
  let lastMs = env.now();
  let solved = 0;
  let outstanding = 0;
  let settle: (() => void) | null = null;
  const timeoutMs = spec.timeoutMs ?? 5_000;
  const maxBurst = Math.max(10, spec.ratePerS * 0.25);
  // Requests still pending a moment after the flood stops are cut by destroying the pools
  // (counted as `unanswered`); no per-request abort listener, which costs with thousands in flight.
  let cut = false;

  const send = (src: FloodSource): void => {
    const r = spec.request(env.rng, src);
    const headers = { ...r.headers };
    if (src.cookies.size) headers.cookie = [...src.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    src.inFlight++;
    outstanding++;
    recordSent(counters, env.now());
    poolFor(env.origin, src, spec.connectionsPerSource)
      .request({ method: r.method, path: r.path, headers, body: r.body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
      .then(async (res) => { await res.body.dump(); return String(res.statusCode); },
        (err: unknown) => (cut || env.signal.aborted ? 'unanswered' : errorKey(err)))
      .then((key) => {
        recordAnswer(counters, env.now(), key);
        src.inFlight--;
        outstanding--;
        if (outstanding === 0) settle?.();
      });
  };

  const tick = (): void => {
    const now = env.now();
    const tS = now / 1000;
    const dt = (now - lastMs) / 1000;
    lastMs = now;
    if (tS < spec.startS || tS >= spec.stopS) return;
    const mult = spec.schedule ? Math.max(0, Math.min(1, spec.schedule(tS))) : 1;
    if (mult > 0) counters.activeSeconds += dt;
    owed += spec.ratePerS * mult * dt;
    let due = Math.floor(owed) - issued;
    if (due <= 0) return;
    counters.requested += due;
    issued += due;
    if (due > maxBurst) { counters.notSentBehind += due - Math.floor(maxBurst); due = Math.floor(maxBurst); }
    for (let i = 0; i < due; i++) {
      const src = sources[order[cursor]!]!;
      cursor = (cursor + 1) % order.length;
      if (src.inFlight >= spec.connectionsPerSource) { counters.notSentBusy++; continue; }
      send(src);
    }
  };

  const done = (async () => {
    if (spec.solver) solved = await primeClearance(spec, env, sources);
    lastMs = env.now();
    const timer = setInterval(tick, TICK_MS);
    await new Promise<void>((resolve) => {
      const stopAt = setTimeout(resolve, Math.max(0, spec.stopS * 1000 - env.now()));
      env.signal.addEventListener('abort', () => { clearTimeout(stopAt); resolve(); }, { once: true });
    });
    clearInterval(timer);
    if (outstanding > 0 && !env.signal.aborted) {
      await new Promise<void>((resolve) => { settle = resolve; setTimeout(resolve, 1_500).unref(); });
    }
    cut = true;
    await Promise.all(sources.map((s) => s.pool?.destroy().catch(() => undefined)));
  })();
  return { counters, get solved() { return solved; }, done, sourceAddresses: env.addresses.filter((a): a is string => !!a) };
}

/** Each bot fetches the home page once and, when challenged, solves it and keeps the clearance cookies. */
async function primeClearance(spec: FloodSpec, env: FloodEnv, sources: FloodSource[]): Promise<number> {
  const solver = spec.solver!;
  let solved = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    // Bounded: each worker takes distinct sources until none is left or the run ends.
    while (next < sources.length && !env.signal.aborted && env.now() < spec.stopS * 1000) {
      const src = sources[next++]!;
      const pool = poolFor(env.origin, src, spec.connectionsPerSource);
      const http = {
        async request(method: string, path: string, init: { body?: string; contentType?: string } = {}): Promise<ChallengeResponse> {
          const r = spec.request(env.rng, src);
          const headers: Record<string, string> = { ...r.headers };
          if (src.cookies.size) headers.cookie = [...src.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
          if (init.body !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
          const res = await pool.request({ method, path, headers, body: init.body, headersTimeout: 5_000, bodyTimeout: 5_000, signal: env.signal });
          applySetCookie(src.cookies, res.headers['set-cookie']);
          return { status: res.statusCode, headers: res.headers, body: await res.body.text(), url: env.origin + path };
        },
      };
      try {
        const first = await http.request('GET', '/');
        if (solver.detect(first) && (await solver.solve(first, http, env.signal))) solved++;
      } catch { /* a bot that fails to prime floods without clearance */ }
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, sources.length) }, worker));
  return solved;
}
