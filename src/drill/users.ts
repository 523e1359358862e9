import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { Browser, BrowserResponse, FetchInit } from './browser.js';
import type { DrillClass, LegitSample, Outcome } from './metrics.js';
import { parcelId, randomToken, type Rng } from './rng.js';

/**
 * Legitimate user profiles: tracking and banking sessions, played by one simulated browser each.
 * Think times are divided by the time scale; patience, timeouts, a person's reactions (a reload)
 * and an app's timers (payment polling) are not (a user waits and reacts as in a real run).
 */
export interface UserContext {
  browser: Browser;
  rng: Rng;
  origin: string;
  timeScale: number;
  /** Milliseconds since the run started. */
  now(): number;
  record(sample: LegitSample): void;
  goal(name: GoalName, ok: boolean): void;
  /** Aborts when the run ends: users start nothing new. */
  signal: AbortSignal;
  /** Aborts a grace period later: requests still pending are cut and recorded as unfinished. */
  requestSignal: AbortSignal;
  /** Per-user settings. */
  settings: UserSettings;
}

export type GoalName = 'lookup' | 'login' | 'payment';

export interface UserSettings {
  /** A request unanswered after this many ms makes a tracking user reload (and counts as abandoned). */
  patienceMs: number;
  /** Whole-attempt budget for banking requests (apps time out, users do not reload). */
  timeoutMs: number;
  /** Reloads a tracking user tries before giving up, drawn in [min, max]. */
  reloads: [number, number];
  /** Think time between pages, seconds (before time scaling). */
  thinkS: [number, number];
  /** Lookups per tracking session. */
  lookups: [number, number];
  /** Share of banking sessions that create a payment authorization. */
  paymentShare: number;
  /** Payment status polling interval, seconds of real time (an app's timer, never time-scaled). */
  pollS: [number, number];
  /** Longest polling, seconds (before time scaling): the payment page gives up after 5 minutes. */
  pollMaxS: number;
  /** Password every simulated customer knows (the demo origin's). */
  password: string;
  /**
   * Share of parcel lookups after which the user follows the parcel live: the live page's
   * WebSocket, kept open for a think time, with the refresh pressed once (0 = never).
   */
  liveShare: number;
  /**
   * Requests the account page's script sends in parallel once the page has loaded, drawn in
   * [min, max]: a bank's dashboard fetches its private data (accounts, transactions, messages …)
   * as a browser does, over its six connections, none of it cacheable. 0 = a page is one request.
   */
  pageRequests: [number, number];
  /** The customers' browsers offer HTTP/2 (drill/browser.ts `h2`): for an https:// target that offers it too. */
  h2: boolean;
  /**
   * Share of a tracking user's searches typed as a sentence of 4–10 words (a question, an address
   * pasted whole) rather than a word or two: each word one more lookup at the origin, the
   * costliest request a customer sends in good faith — and the same shape as a flood of costly
   * searches (drill `costly-search`), which a shield must not hold against the customers.
   */
  longSearchShare: number;
  /**
   * The site's search takes its terms in the path (`/search/colis+suivi`) rather than the query
   * (`/search?q=…`), as sites with "clean" URLs do; the flood of costly searches sends them the
   * same way (scenarios.ts `costlySearch`).
   */
  searchInPath: boolean;
  /**
   * What follows the terms in the path when `searchInPath` (`/page/1`: `/search/colis+suivi/page/1`,
   * the terms in an inner segment); empty by default.
   */
  searchPathSuffix: string;
  /**
   * The site's search form posts its terms (`POST /search` with `q=colis+suivi`, urlencoded) — no
   * query, no terms in the path; the flood of costly searches posts them the same way.
   */
  searchByPost: boolean;
}

/** A search for `q` (already encoded) as the site takes it: a GET (query or path, `searchTarget`), or a posted form. */
export function searchRequest(q: string, settings: Pick<UserSettings, 'searchInPath' | 'searchPathSuffix' | 'searchByPost'>, extra = ''): { method: 'GET' | 'POST'; path: string; body?: string } {
  if (settings.searchByPost) return { method: 'POST', path: '/search', body: `q=${q}${extra === '' ? '' : `&${extra}`}` };
  return { method: 'GET', path: searchTarget(q, settings, extra) };
}

/** The target of a search for `q` (already encoded) as the site takes it: in the query, or in the path. */
export function searchTarget(q: string, settings: Pick<UserSettings, 'searchInPath' | 'searchPathSuffix'>, query = ''): string {
  return settings.searchInPath ? `/search/${q}${settings.searchPathSuffix}${query === '' ? '' : `?${query}`}` : `/search?q=${q}${query === '' ? '' : `&${query}`}`;
}

export const DEFAULT_USER_SETTINGS: UserSettings = {
  patienceMs: 5_000, timeoutMs: 10_000, reloads: [2, 5], thinkS: [7, 10], lookups: [1, 4],
  paymentShare: 0.25, pollS: [1, 3], pollMaxS: 300, password: 'demo-password', liveShare: 0.25,
  pageRequests: [0, 0], h2: false, longSearchShare: 0.2, searchInPath: false, searchPathSuffix: '', searchByPost: false,
};

/** The route class a request falls in, as the shield's default routes would classify it. */
export function classOf(method: string, path: string): DrillClass {
  if (path.startsWith('/api/pay/')) return 'critical';
  if (path.startsWith('/bank/login') && method === 'POST') return 'critical';
  if (path.startsWith('/bank/')) return 'high';
  if (path.startsWith('/track') || path.startsWith('/search') || path.startsWith('/live/')) return 'normal';
  return 'low';
}

const isAbort = (err: unknown): boolean => err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');

function outcomeOf(err: unknown, ctx: UserContext, userAbort: AbortSignal | undefined, elapsed: number, budget: number): Outcome {
  if (ctx.requestSignal.aborted) return 'unfinished';
  if (userAbort?.aborted) return 'abandoned';
  const code = (err as { code?: string } | null)?.code ?? '';
  if (code.includes('TIMEOUT') || (isAbort(err) && elapsed >= budget - 50)) return 'timeout';
  return 'error';
}

/** Makes one attempt and records it; null when no response arrived. */
export async function attempt(
  ctx: UserContext, method: string, path: string, route: string, init: FetchInit & { userAbort?: AbortSignal } = {},
): Promise<BrowserResponse | null> {
  if (ctx.signal.aborted) return null; // the run ended: users start nothing new
  const cls = classOf(method, path);
  const startMs = ctx.now();
  const budget = init.timeoutMs ?? ctx.settings.timeoutMs;
  const signals = [ctx.requestSignal, ...(init.userAbort ? [init.userAbort] : [])];
  try {
    const res = await ctx.browser.fetch(method, path, { ...init, timeoutMs: budget, signal: AbortSignal.any(signals) });
    const ok = res.status >= 200 && res.status < 400;
    ctx.record({ startMs, latencyMs: ctx.now() - startMs, cls, route, status: res.status, outcome: ok ? 'ok' : 'http_error', challenged: res.challenged });
    return res;
  } catch (err) {
    const latencyMs = ctx.now() - startMs;
    ctx.record({ startMs, latencyMs, cls, route, status: 0, outcome: outcomeOf(err, ctx, init.userAbort, latencyMs, budget) });
    return null;
  }
}

/** Sleeps `s` seconds of scenario time (divided by the time scale); false when the run ended. */
export async function think(ctx: UserContext, range: [number, number]): Promise<boolean> {
  return sleepFor(ctx, (ctx.rng.between(range[0], range[1]) * 1000) / ctx.timeScale);
}

/**
 * Sleeps `s` seconds of real time: an app's own timer (payment status polling) runs at its own
 * pace whatever the time scale compresses of a person's think time. Scaled, a payment page polled
 * every 0.2–0.6 s — three to five times a real app's rate, which put banking customers at a
 * flooding pace (detect/identity-pace.ts) in the drill and never in reality.
 */
export async function appTimer(ctx: UserContext, range: [number, number]): Promise<boolean> {
  return sleepFor(ctx, ctx.rng.between(range[0], range[1]) * 1000);
}

/**
 * Sleeps `s` seconds of real time, as `appTimer` does: a person's reaction to what the page showed (an error, a page
 * that never came), which a compressed run does not make quicker — as patience is not compressed.
 * Scaled, a customer whose page was refused reloaded it 0.1–0.3 s later, up to five times: faster
 * than anyone reads an error page, and six requests in about a second put the customer at a
 * flood's pace (detect/identity-pace.ts), where the following pages were refused in turn
 * (browse-then-flood from 2,000 sources, fifty-fourth session) — in the drill, never in reality.
 */
export const react: (ctx: UserContext, range: [number, number]) => Promise<boolean> = appTimer;

async function sleepFor(ctx: UserContext, ms: number): Promise<boolean> {
  try {
    await sleepTimer(ms, undefined, { signal: ctx.signal });
    return true;
  } catch {
    return false;
  }
}

const ok = (r: BrowserResponse | null): boolean => r !== null && r.status >= 200 && r.status < 400;

/** A page load a user reloads when it is slow or fails, 2–5 times, then gives up. */
async function withReloads(ctx: UserContext, method: string, path: string, route: string, init: FetchInit): Promise<boolean> {
  const reloads = ctx.rng.int(ctx.settings.reloads[0], ctx.settings.reloads[1]);
  for (let i = 0; i <= reloads && !ctx.signal.aborted; i++) {
    const user = new AbortController();
    const timer = setTimeout(() => user.abort(), ctx.settings.patienceMs);
    const res = await attempt(ctx, method, path, route, { ...init, userAbort: user.signal, timeoutMs: ctx.settings.timeoutMs });
    clearTimeout(timer);
    if (ok(res)) return true;
    // The user notices, then presses reload: a reaction, in real time.
    if (!(await react(ctx, [0.5, 1.5]))) return false;
  }
  return false;
}

const SEARCH_WORDS = ['colis', 'lettre suivie', 'horaires bureau', 'retour colis', 'tarif', 'recommandé', 'avis de passage', 'procuration'];
/** Words customers' long searches are made of (a question about a parcel, an office, a form). */
const SENTENCE_WORDS = ['comment', 'envoyer', 'un', 'colis', 'à', 'l\'étranger', 'mon', 'est', 'bloqué', 'depuis', 'trois', 'jours',
  'bureau', 'de', 'poste', 'ouvert', 'dimanche', 'près', 'rue', 'avenue', 'lettre', 'recommandée', 'avec', 'accusé', 'réception',
  'tarif', 'pour', 'la', 'belgique', 'suivi', 'pas', 'mis', 'à', 'jour', 'adresse', 'changer', 'livraison', 'voisin', 'relais'];

/** What a tracking user types in the search box: mostly a word or two, sometimes a whole sentence. */
function searchQuery(ctx: UserContext): string {
  // No draw at a share of 0: the same seed then makes the same customers as before there were sentences.
  if (ctx.settings.longSearchShare <= 0 || ctx.rng.next() >= ctx.settings.longSearchShare) return encodeURIComponent(ctx.rng.pick(SEARCH_WORDS));
  const n = ctx.rng.int(4, 10);
  return Array.from({ length: n }, () => encodeURIComponent(ctx.rng.pick(SENTENCE_WORDS))).join('+');
}

/** One tracking session: the tracking page, then 1–4 lookups of distinct parcels with think time. */
export async function trackingSession(ctx: UserContext, firstVisit: boolean): Promise<void> {
  if (ctx.rng.next() < 0.2) {
    const q = searchQuery(ctx);
    const s = searchRequest(q, ctx.settings);
    await withReloads(ctx, s.method, s.path, `${s.method} /search`, s.body === undefined ? { kind: 'document' } : { kind: 'form', body: s.body, referer: `${ctx.origin}/track` });
    if (!(await think(ctx, ctx.settings.thinkS))) return;
  }
  const page = await withReloads(ctx, 'GET', '/track', 'GET /track', { kind: 'document' });
  if (page && firstVisit) await attempt(ctx, 'GET', '/static/site.css', 'GET /static', { kind: 'css', referer: `${ctx.origin}/track` });
  const n = ctx.rng.int(ctx.settings.lookups[0], ctx.settings.lookups[1]);
  for (let i = 0; i < n; i++) {
    if (!(await think(ctx, ctx.settings.thinkS))) return;
    const id = parcelId(ctx.rng);
    const done = await withReloads(ctx, 'GET', `/track/${id}`, 'GET /track/:id', { kind: 'json', referer: `${ctx.origin}/track` });
    if (!ctx.signal.aborted) ctx.goal('lookup', done);
    if (done && ctx.rng.next() < ctx.settings.liveShare) await followLive(ctx, id);
  }
}

/** Routes of the live page's WebSocket as samples name them (the report sums them as `live`). */
export const LIVE_OPEN_ROUTE = 'WS /live/parcel/:id';
export const LIVE_REFRESH_ROUTE = 'WS refresh';

/**
 * Following a parcel live, as the tracking page's script does (the demo's /live/parcel/{id}): a
 * WebSocket opened with the browser's cookies, kept open while the user reads (one think time),
 * the refresh pressed once in the middle — a message the application answers with a lookup. Two
 * samples, class normal like the lookup: the handshake (ok on 101; a refusal's status otherwise;
 * the user does not retry) and the refresh (ok when its answer came, 503 when the application
 * answered busy, a timeout after the user's patience). The answer is the frame that names the
 * refresh (`re`): the application also pushes the status on its own every 2 s.
 */
async function followLive(ctx: UserContext, id: string): Promise<void> {
  if (ctx.signal.aborted) return;
  const path = `/live/parcel/${id}`;
  const startMs = ctx.now();
  const o = await ctx.browser.openWebSocket(path, { timeoutMs: ctx.settings.patienceMs, signal: ctx.requestSignal });
  const latencyMs = ctx.now() - startMs;
  const outcome: Outcome = o.socket ? 'ok' : o.status > 0 ? 'http_error' : ctx.requestSignal.aborted ? 'unfinished' : o.failure === 'timeout' ? 'timeout' : 'error';
  ctx.record({ startMs, latencyMs, cls: 'normal', route: LIVE_OPEN_ROUTE, status: o.status, outcome });
  const ws = o.socket;
  if (!ws) return;
  try {
    const [a, b] = ctx.settings.thinkS;
    if (!(await think(ctx, [a / 2, b / 2]))) return;
    const re = ctx.rng.int(1, 1_000_000);
    const sent = ctx.now();
    const answer = await new Promise<'ok' | 'busy' | 'none' | 'closed'>((resolve) => {
      const done = (v: 'ok' | 'busy' | 'none' | 'closed'): void => { clearTimeout(timer); ws.off('message', onMessage); ws.off('close', onClose); resolve(v); };
      const onMessage = (data: unknown): void => {
        let m: { re?: unknown; error?: unknown };
        try { m = JSON.parse(String(data)) as typeof m; } catch { return; }
        if (m.re === re) done(m.error === undefined ? 'ok' : 'busy');
      };
      const onClose = (): void => done('closed');
      const timer = setTimeout(() => done('none'), ctx.settings.patienceMs);
      ws.on('message', onMessage);
      ws.once('close', onClose);
      ws.send(JSON.stringify({ type: 'refresh', id: re }));
    });
    const refreshOutcome: Outcome = answer === 'ok' ? 'ok' : answer === 'busy' ? 'http_error' : ctx.requestSignal.aborted ? 'unfinished' : answer === 'none' ? 'timeout' : 'error';
    ctx.record({ startMs: sent, latencyMs: ctx.now() - sent, cls: 'normal', route: LIVE_REFRESH_ROUTE, status: answer === 'ok' ? 200 : answer === 'busy' ? 503 : 0, outcome: refreshOutcome });
    await think(ctx, [a / 2, b / 2]);
  } finally {
    ws.close(1000);
    // A peer that does not answer the close frame is not waited for (ws would wait 30 s).
    setTimeout(() => ws.terminate(), 1_000).unref();
  }
}

/** The account page's data, as its script names it (the demo's /bank/api/{name}). */
export const ACCOUNT_DATA = ['accounts', 'transactions', 'messages', 'cards', 'beneficiaries', 'notifications', 'documents', 'offers', 'profile', 'limits', 'savings', 'alerts'] as const;

/** The account page's script: `pageRequests` requests for its data at once, as a browser sends them. */
async function accountData(ctx: UserContext): Promise<void> {
  const n = Math.min(ACCOUNT_DATA.length, ctx.rng.int(ctx.settings.pageRequests[0], ctx.settings.pageRequests[1]));
  if (n <= 0 || ctx.signal.aborted) return;
  await Promise.all(ACCOUNT_DATA.slice(0, n).map((name) =>
    attempt(ctx, 'GET', `/bank/api/${name}`, 'GET /bank/api/:name', { kind: 'json', referer: `${ctx.origin}/bank/account` })));
}

/** One banking session: login page, login, 1–3 account pages, and for 20–30% a payment polled to approval. */
export async function bankingSession(ctx: UserContext, userId: string): Promise<void> {
  const s = ctx.settings;
  // No form without the page: a user reloads it when it is slow or fails, and gives up after a few tries.
  const page = await withReloads(ctx, 'GET', '/bank/login', 'GET /bank/login', { kind: 'document' });
  if (!page) { if (!ctx.signal.aborted) ctx.goal('login', false); return; }
  if (!(await think(ctx, [s.thinkS[0] / 2, s.thinkS[1] / 2]))) return;
  const body = new URLSearchParams({ user: userId, password: s.password }).toString();
  const login = await attempt(ctx, 'POST', '/bank/login', 'POST /bank/login', { kind: 'form', body, referer: `${ctx.origin}/bank/login` });
  const loggedIn = ok(login) && login!.body.length > 0 && !login!.url.endsWith('/bank/login');
  if (ctx.signal.aborted) return;
  ctx.goal('login', loggedIn);
  if (!loggedIn) return;
  const pages = ctx.rng.int(1, 3);
  for (let i = 0; i < pages; i++) {
    if (!(await think(ctx, s.thinkS))) return;
    const account = await attempt(ctx, 'GET', '/bank/account', 'GET /bank/account', { kind: 'document', referer: `${ctx.origin}/bank/account` });
    if (ok(account)) await accountData(ctx);
  }
  if (ctx.rng.next() >= s.paymentShare) return;
  const pay = JSON.stringify({ amount: (ctx.rng.int(500, 50_000) / 100).toFixed(2), payee: `FR76${randomToken(ctx.rng, 10)}` });
  const created = await attempt(ctx, 'POST', '/api/pay/authorizations', 'POST /api/pay/authorizations',
    { kind: 'json-post', body: pay, contentType: 'application/json', referer: `${ctx.origin}/bank/account` });
  if (ctx.signal.aborted) return;
  let id: string | undefined;
  try { id = created && created.status === 201 ? (JSON.parse(created.body) as { id?: string }).id : undefined; } catch { id = undefined; }
  if (!id) { ctx.goal('payment', false); return; }
  const deadline = ctx.now() + (s.pollMaxS * 1000) / ctx.timeScale;
  // Bounded: the payment page polls for at most pollMaxS (scaled) and then gives up.
  while (ctx.now() < deadline) {
    if (!(await appTimer(ctx, s.pollS))) return;
    const st = await attempt(ctx, 'GET', `/api/pay/authorizations/${id}`, 'GET /api/pay/authorizations/:id', { kind: 'json', referer: `${ctx.origin}/bank/account` });
    if (st?.status === 200 && st.body.includes('"approved"')) { ctx.goal('payment', true); return; }
  }
  if (!ctx.signal.aborted) ctx.goal('payment', false);
}

/** Runs a user's sessions back to back with think time between them, until the run ends. */
export async function runUser(ctx: UserContext, profile: 'tracking' | 'banking', userId: string): Promise<void> {
  // Arrivals spread over one think time so users do not start in lockstep.
  if (!(await think(ctx, [0, ctx.settings.thinkS[1]]))) return;
  for (let session = 0; !ctx.signal.aborted; session++) {
    if (profile === 'tracking') await trackingSession(ctx, session === 0);
    else await bankingSession(ctx, userId);
    if (!(await think(ctx, ctx.settings.thinkS))) return;
  }
}
