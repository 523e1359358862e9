import { Pool, type Dispatcher } from 'undici';
import { applySetCookie } from './browser.js';
import type { ChallengeHttp, ChallengeResponse, ChallengeSolver } from './challenge.js';
import { browserHeaders, type BrowserIdentity } from './headers.js';
import type { AttackEnv } from './attack-env.js';
import { createAttackCounters, recordAnswer, recordSent, type AttackCounters } from './metrics.js';
import type { Rng } from './rng.js';
import { connectorFrom } from './local-ports.js';
import { DRILL_TLS_OPTIONS } from './tls-target.js';
import { createRelogins, type ReloginSpec, type Relogins } from './relogin.js';
import { browseFirst, type WarmupReport, type WarmupSpec } from './warmup.js';

/** One attacking source: its address, its connections, its cookies (for clearance), its browser identity. */
export interface FloodSource {
  index: number;
  address: string | undefined;
  identity: BrowserIdentity;
  cookies: Map<string, string>;
  inFlight: number;
  pool: Pool | null;
  /** Challenges this bot may still solve during the flood. */
  solvesLeft: number;
  /** A solve is under way: the bot sends nothing else meanwhile. */
  solving: boolean;
  /** Logins this bot may still make during the flood when its session is refused. */
  reloginsLeft: number;
  /** A login is under way: the bot sends nothing else meanwhile. */
  loggingIn: boolean;
  /** When the bot's last login began, run ms (its warm-up's, or -Infinity: none yet). */
  lastLoginMs: number;
  /** With `relogin.fresh`: makes the bot a new client (another address and agent, no cookies). */
  renew?(): void;
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
  /**
   * Bots that solve challenges through the same interface as browsers: a bot solves the first
   * `solves` challenges it meets during the flood (not sending meanwhile) and floods on with the
   * clearance it holds; challenges beyond that are counted as answers, never solved.
   */
  solver?: ChallengeSolver;
  /** Challenges each bot solves during the flood (default 1). */
  solves?: number;
  /** Apply every answer's Set-Cookie to the bot's jar (bots that keep their cookies). */
  keepCookies?: boolean;
  /**
   * Before the flood, each bot browses like a customer from `fromS` to `startS`: `pages` page loads
   * (home first) with browser headers, redirects, cookies and challenges, then floods with that jar.
   */
  warmup?: WarmupSpec;
  /**
   * Bots that log in again when their session is refused, as an attacker holding the credentials
   * does: a bot with logins left whose request is answered 429, 401 or 403 logs in again as its
   * warm-up did (`warmup.login`, required: the account of bot index mod `share`), at most `times`
   * times and one login every `gapS` seconds, sending nothing meanwhile.
   */
  relogin?: ReloginSpec;
  /**
   * HTTP/1.1 pipelining: requests each connection writes before the first answer comes back
   * (default 1, none). The source's concurrency is connections × this.
   */
  pipelining?: number;
  /**
   * HTTP/2 (an https:// target that offers h2): each connection carries `pipelining` concurrent
   * streams instead of pipelined requests — a multiplexed flood, few connections, many requests
   * in flight on each, none waiting for another's answer.
   */
  h2?: boolean;
  /** Per-request timeout, ms. */
  timeoutMs?: number;
  /**
   * Every request on a new connection, closed after its answer (`Connection: close`), as many
   * botnet HTTP tools send: the target pays a TCP accept and a parser per request, and defences
   * that count per connection see one request each.
   */
  freshConnections?: boolean;
  /**
   * Tools that start over when refused: a bot whose request is answered 503 or 429 (a challenge it
   * does not solve) throws its cookie jar away and gets its `solves` back, as a restarted attack
   * tool session does; with `newAgent`, it also takes another browser's User-Agent from the pool
   * (tools that rotate agents per session). Its address stays its own.
   */
  forgetOnRefusal?: { newAgent: boolean };
  /**
   * The cookie each bot holds before its first request, by its address and User-Agent: a
   * reputation the target issued to that client long before (farmed by browsing over days, as a
   * botnet's residential addresses can). Absent or undefined: an empty jar.
   */
  initialCookie?: (address: string, userAgent: string) => readonly [string, string] | undefined;
}

/** A flood's environment: the run's sources and the target origin. */
export interface FloodEnv extends AttackEnv {
  origin: string;
  /**
   * Addresses and identities the bots move to when they log in again as new clients
   * (`relogin.fresh`), taken in turn by whichever bot logs in next (reused once all were taken).
   */
  spares?: { addresses: (string | undefined)[]; identities: BrowserIdentity[] };
}

export interface RunningFlood {
  counters: AttackCounters;
  /** Challenges solved by the bots (challenge-solver scenario). */
  solved: number;
  /** Times a bot threw its cookies away on a refusal (`forgetOnRefusal`). */
  forgotten: number;
  /**
   * Warm-up: page loads made and answered 2xx/3xx, bots holding at least one cookie when the flood
   * began; with `relogin`, the logins made during the flood and how many landed.
   */
  warmup?: WarmupReport;
  /** Resolves when the flood stopped and its requests settled (or were destroyed). */
  done: Promise<void>;
  sourceAddresses: string[];
}

const TICK_MS = 10;

function poolFor(origin: string, src: FloodSource, conns: number, pipelining = 1, h2 = false): Pool {
  src.pool ??= new Pool(origin, {
    connections: conns, pipelining, keepAliveTimeout: 30_000,
    ...(h2 ? { allowH2: true, maxConcurrentStreams: pipelining } : {}),
    connect: src.address ? connectorFrom(src.address, undefined, undefined, h2) : { ...DRILL_TLS_OPTIONS, ...(h2 ? { allowH2: true } : {}) },
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
  if (spec.relogin && !spec.warmup?.login) throw new Error(`${spec.label}: bots that log in again need a warm-up login (warmup.login)`);
  const counters = createAttackCounters(spec.label, 'flood', env.seconds);
  const sources: FloodSource[] = env.addresses.map((address, index) => ({
    index, address, identity: env.identities[index % env.identities.length]!, cookies: new Map(), inFlight: 0, pool: null,
    solvesLeft: spec.solver ? spec.solves ?? 1 : 0, solving: false, reloginsLeft: spec.relogin?.times ?? 0, loggingIn: false, lastLoginMs: -Infinity,
  }));
  for (const src of sources) {
    const c = src.address !== undefined ? spec.initialCookie?.(src.address, src.identity.userAgent) : undefined;
    if (c) src.cookies.set(c[0], c[1]);
  }
  const order = sources.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) { const j = env.rng.int(0, i); [order[i], order[j]] = [order[j]!, order[i]!]; }
  let cursor = 0;
  let owed = 0;
  let issued = 0;
  let lastMs = env.now();
  let solved = 0;
  const warm: RunningFlood['warmup'] = spec.warmup ? { pages: 0, ok: 0, botsWithCookies: 0 } : undefined;
  let outstanding = 0;
  let settle: (() => void) | null = null;
  const timeoutMs = spec.timeoutMs ?? 5_000;
  const maxBurst = Math.max(10, spec.ratePerS * 0.25);
  // Requests still pending a moment after the flood stops are cut by destroying the pools
  // (counted as `unanswered`); no per-request abort listener, which costs with thousands in flight.
  let cut = false;
  // Pools of the addresses bots left (relogin.fresh): closed once their requests end, destroyed at the end.
  const retired: Pool[] = [];
  let spareCursor = 0;
  const renew = (src: FloodSource): void => {
    const spares = env.spares;
    if (!spares || spares.addresses.length === 0) throw new Error(`${spec.label}: bots that log in again as new clients need spare addresses`);
    const k = spareCursor++ % spares.addresses.length;
    if (src.pool) { retired.push(src.pool); void src.pool.close().catch(() => undefined); }
    src.pool = null;
    src.address = spares.addresses[k];
    src.identity = spares.identities[k % spares.identities.length]!;
    src.cookies.clear();
  };
  if (spec.relogin?.fresh) for (const src of sources) src.renew = () => renew(src);
  let forgotten = 0;
  const forget = (src: FloodSource, newAgent: boolean): void => {
    forgotten++;
    src.cookies.clear();
    src.solvesLeft = spec.solver ? spec.solves ?? 1 : 0;
    if (newAgent) src.identity = env.identities[env.rng.int(0, env.identities.length - 1)]!;
  };
  const relogins: Relogins | undefined = spec.relogin && warm && spec.warmup?.login
    ? createRelogins(spec.relogin, spec.warmup.login, env, warm, spec.solver, () => solved++)
    : undefined;

  /** Reads an answer; a challenge the bot may still solve starts its solve (true), sending nothing meanwhile. */
  const startSolveOn = async (src: FloodSource, res: Dispatcher.ResponseData, path: string): Promise<boolean> => {
    if (!spec.solver || src.solvesLeft <= 0 || src.solving || src.loggingIn || res.statusCode < 300) { await res.body.dump(); return false; }
    const answer: ChallengeResponse = { status: res.statusCode, headers: res.headers, body: await res.body.text(), url: env.origin + path };
    if (!spec.solver.detect(answer) || src.solvesLeft <= 0 || src.solving || src.loggingIn) return false;
    src.solvesLeft--;
    src.solving = true;
    void spec.solver.solve(answer, botHttp(env, src, spec.connectionsPerSource, timeoutMs), env.signal)
      .then((okSolve) => { if (okSolve) solved++; }, () => undefined)
      .finally(() => { src.solving = false; });
    return true;
  };

  const send = (src: FloodSource): void => {
    const r = spec.request(env.rng, src);
    const headers = { ...r.headers };
    if (src.cookies.size) headers.cookie = [...src.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    src.inFlight++;
    outstanding++;
    recordSent(counters, env.now());
    poolFor(env.origin, src, spec.connectionsPerSource, spec.pipelining, spec.h2 === true)
      .request({ method: r.method, path: r.path, headers, body: r.body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, ...(spec.freshConnections ? { reset: true } : {}),
        // undici holds the next request until this one's headers arrive unless told it will not block.
        ...((spec.pipelining ?? 1) > 1 ? { blocking: false } : {}) })
      .then(async (res) => {
        if (spec.keepCookies || spec.solver) applySetCookie(src.cookies, res.headers['set-cookie']);
        const solving = await startSolveOn(src, res, r.path);
        if (!solving) relogins?.onAnswer(src, res.statusCode);
        if (!solving && spec.forgetOnRefusal && (res.statusCode === 503 || res.statusCode === 429)) forget(src, spec.forgetOnRefusal.newAgent);
        return String(res.statusCode);
      }, (err: unknown) => (cut || env.signal.aborted ? 'unanswered' : errorKey(err)))
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
      if (src.solving) { counters.notSentSolving++; continue; }
      if (src.loggingIn) { counters.notSentLoggingIn++; continue; }
      if (src.inFlight >= spec.connectionsPerSource * (spec.pipelining ?? 1)) { counters.notSentBusy++; continue; }
      send(src);
    }
  };

  const done = (async () => {
    if (spec.warmup) await browseFirst(spec.warmup, spec.startS, env, sources, warm!, spec.solver, () => solved++);
    if (warm) warm.botsWithCookies = sources.filter((s) => s.cookies.size > 0).length;
    lastMs = env.now();
    const timer = setInterval(tick, TICK_MS);
    await new Promise<void>((resolve) => {
      const stopAt = setTimeout(resolve, Math.max(0, spec.stopS * 1000 - env.now()));
      env.signal.addEventListener('abort', () => { clearTimeout(stopAt); resolve(); }, { once: true });
    });
    clearInterval(timer);
    // Logins under way when the flood stops are abandoned.
    await relogins?.stop();
    if (outstanding > 0 && !env.signal.aborted) {
      await new Promise<void>((resolve) => { settle = resolve; setTimeout(resolve, 1_500).unref(); });
    }
    cut = true;
    await Promise.all([...sources.map((s) => s.pool), ...retired].map((p) => p?.destroy().catch(() => undefined)));
  })();
  const used = [...env.addresses, ...(env.spares?.addresses ?? [])];
  return { counters, get solved() { return solved; }, get forgotten() { return forgotten; }, ...(warm ? { warmup: warm } : {}), done, sourceAddresses: used.filter((a): a is string => !!a) };
}

/**
 * The HTTP access a bot gives a solver: its own address, connections and cookie jar, browser
 * headers. It follows no redirect: an attack tool keeps the clearance cookie from the verify's
 * answer and floods on at once, instead of loading the page the 303 leads back to (which a shield
 * under attack may queue for seconds). The solver follows the no-JavaScript redirect itself.
 */
function botHttp(env: FloodEnv, src: FloodSource, conns: number, timeoutMs: number): ChallengeHttp {
  const pool = poolFor(env.origin, src, conns);
  const origin = new URL(env.origin).origin;
  return {
    async request(method, path, init = {}) {
      const body = init.body;
      const headers = browserHeaders(src.identity, body !== undefined ? 'json-post' : 'document');
      if (src.cookies.size) headers.cookie = [...src.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      if (body !== undefined) { headers['content-type'] = init.contentType ?? 'application/json'; headers.origin = origin; }
      const res = await pool.request({ method, path, headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: env.signal });
      applySetCookie(src.cookies, res.headers['set-cookie']);
      return { status: res.statusCode, headers: res.headers, body: await res.body.text(), url: origin + path };
    },
  };
}

