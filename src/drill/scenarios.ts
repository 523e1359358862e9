import type { ChallengeSolver } from './challenge.js';
import type { FloodRequest, FloodSource, FloodSpec } from './flood.js';
import { ALL_IDENTITIES, browserHeaders, pickReferer } from './headers.js';
import { parcelId, randomToken, type Rng } from './rng.js';
import { ACCOUNT_DATA, searchRequest } from './users.js';
import type { SlowSpec } from './slow.js';

/** A documented, overridable numeric parameter of a scenario. */
export interface ParamDef { default: number; doc: string; min?: number; max?: number }

export interface ScenarioContext {
  origin: string;
  /** Attack window in run seconds. */
  startS: number;
  stopS: number;
  timeScale: number;
  rng: Rng;
  solver: ChallengeSolver;
  /** The password of the site's accounts, as its customers know it (bots that hold accounts log in with it). */
  password: string;
  /**
   * The reputation cookie the target would have issued `ageS` ago to a client at `address` with
   * `userAgent`; only where the drill knows the target's key (`rempart bench ddos`).
   */
  farmedCookie?(address: string, userAgent: string, ageS: number): readonly [string, string];
  /** The site's search takes its terms in the path (users.ts `searchInPath`): its floods search that way too. */
  searchInPath?: boolean;
  /** What follows the terms in the path (users.ts `searchPathSuffix`). */
  searchPathSuffix?: string;
  /** The site's search form posts its terms (users.ts `searchByPost`): its floods post them too. */
  searchByPost?: boolean;
}

/** What a scenario asks the engine to run, besides the legitimate users. */
export interface ScenarioPlan {
  floods: FloodSpec[];
  slow: SlowSpec[];
  /** Flash crowd: legitimate population multiplied by `factor` from `atS` on. */
  crowd?: { factor: number; atS: number };
}

export interface Scenario {
  name: string;
  summary: string;
  params: Record<string, ParamDef>;
  /** Its bots hold cookies only the target's key can mint (`ScenarioContext.farmedCookie`): the bench must know the key. */
  needsTargetKey?: boolean;
  /** Seconds of normal traffic the scenario needs before its attack (default 3, at most 20% of the run; a warm-up may take up to half). */
  leadS?(p: Record<string, number>): number;
  plan(p: Record<string, number>, ctx: ScenarioContext): ScenarioPlan;
}

const WORDS = ['colis', 'suivi', 'lettre', 'recommande', 'horaires', 'bureau', 'tarifs', 'timbre', 'retour', 'livraison', 'compte', 'carte', 'virement', 'epargne', 'pret', 'assurance'];
const BUST_KEYS = ['v', '_', 't', 'cb', 'ref', 'utm_source', 'utm_campaign', 'page', 'lang', 'session', 'r', 'nocache'];

/** A GET a DDoSia-style target list would hold, with a random placeholder with probability `bust`. */
function listGet(rng: Rng, src: FloodSource, origin: string, bust: number): FloodRequest {
  const roll = rng.next();
  let path: string;
  let kind: 'document' | 'json' = 'document';
  if (roll < 0.4) path = `/search?q=${rng.pick(WORDS)}`;
  else if (roll < 0.8) { path = `/track/${parcelId(rng)}`; kind = 'json'; }
  else if (roll < 0.9) path = '/';
  else path = '/bank/login';
  if (rng.next() < bust) path += `${path.includes('?') ? '&' : '?'}${rng.next() < 0.5 ? rng.pick(BUST_KEYS) : randomToken(rng, rng.int(3, 8))}=${randomToken(rng, rng.int(4, 12))}`;
  const referer = rng.next() < 0.6 ? pickReferer(rng, origin) : undefined;
  return { method: 'GET', path, headers: browserHeaders(src.identity, kind, referer) };
}

/** A login POST with random credentials, shaped like the real form submission. */
function loginPost(rng: Rng, src: FloodSource, origin: string): FloodRequest {
  const user = rng.next() < 0.5 ? `${randomToken(rng, rng.int(5, 10))}@${rng.pick(['gmail.com', 'orange.fr', 'free.fr', 'laposte.net'])}` : String(rng.int(1e9, 9e9));
  const body = new URLSearchParams({ user, password: randomToken(rng, rng.int(8, 14)) }).toString();
  const headers = browserHeaders(src.identity, 'form', `${origin}/bank/login`);
  headers.origin = origin;
  headers['content-type'] = 'application/x-www-form-urlencoded';
  return { method: 'POST', path: '/bank/login', headers, body };
}

/**
 * Credential stuffing that looks like customers logging in: each bot loads the login form (a
 * browser's page request), then posts a guess from it — its Referer the page it loaded, from the
 * same address and agent, as a browser submits a form — and loads the form again. A shield that
 * ranks a form post by the page behind it sees a backed login, and one that ranks logins first
 * sees a critical request; only the origin's refusals (401) tell it from a customer's. With one
 * connection per bot (the scenario's default) a bot posts only once its form was answered.
 */
function formThenGuess(origin: string): FloodSpec['request'] {
  const atForm = new Set<number>(); // sources whose last request loaded the form: their next posts it
  return (rng, src) => {
    if (atForm.delete(src.index)) return loginPost(rng, src, origin);
    atForm.add(src.index);
    return { method: 'GET', path: '/bank/login', headers: browserHeaders(src.identity, 'document', pickReferer(rng, origin)) };
  };
}

/**
 * A login form posted with a large body (padding after the credentials): what costs the target is
 * the bytes — read, buffered, spooled to disk, forwarded — not the request count. One padding
 * string per flood (the generator must not spend its CPU building bodies).
 */
function uploadPost(rng: Rng, src: FloodSource, origin: string, padding: string): FloodRequest {
  const r = loginPost(rng, src, origin);
  return { ...r, body: `${r.body as string}&comment=${padding}` };
}

const CROSS_SITES = ['https://shop.example', 'https://compare.example.net', 'https://widgets.example.org', 'https://news.example.com'];

/**
 * A CORS preflight, as a browser sends it before a cross-origin POST with a JSON body (Fetch
 * standard, CORS-preflight request): OPTIONS, no cookies, no body, `Origin` and
 * `Access-Control-Request-*`. Aimed at the routes a preflight would precede: the login and the
 * payment API (critical) and a tracking lookup. A shield cannot challenge it (a preflight never
 * carries cookies, and a challenge would break every cross-origin call), so only its standing and
 * its cost to the origin decide what it takes.
 */
function preflight(rng: Rng, src: FloodSource): FloodRequest {
  const roll = rng.next();
  const path = roll < 0.4 ? '/bank/login' : roll < 0.7 ? '/api/pay/authorizations' : `/track/${parcelId(rng)}`;
  const site = rng.pick(CROSS_SITES);
  const headers: Record<string, string> = {
    'user-agent': src.identity.userAgent, accept: '*/*',
    'access-control-request-method': roll < 0.7 ? 'POST' : 'GET',
    'access-control-request-headers': rng.next() < 0.5 ? 'content-type' : 'content-type,x-requested-with',
    origin: site, referer: `${site}/`,
    'sec-fetch-mode': 'cors', 'sec-fetch-site': 'cross-site', 'sec-fetch-dest': 'empty',
    'accept-encoding': 'gzip, deflate, br', 'accept-language': src.identity.acceptLanguage,
  };
  return { method: 'OPTIONS', path, headers };
}

/**
 * A search with `terms` terms — words of the site's vocabulary and one random token, so no cache
 * holds its answer — sent as a browser submits the search form. The costliest request a site
 * exposes to anyone: each term is one more lookup (the demo origin's `searchTerms`), so one request
 * at a person's pace costs the origin what a dozen customers' pages do.
 */
function costlySearch(rng: Rng, src: FloodSource, origin: string, terms: number, vary: number, cheap: number, site: { searchInPath: boolean; searchPathSuffix: string; searchByPost: boolean }, head = false, alias = 0): FloodRequest {
  const words = Array.from({ length: Math.max(1, terms) }, () => rng.pick(WORDS));
  words[rng.int(0, words.length - 1)] = randomToken(rng, rng.int(4, 9));
  // A decoy: one word as long as the search, which the origin answers at a word's cost.
  const search = words.join('+');
  const q = rng.next() < cheap ? randomToken(rng, search.length) : search;
  const s = searchRequest(q, site, varied(rng, vary).replace(/^&/, ''));
  if (s.body === undefined) return { method: head ? 'HEAD' : 'GET', path: alias === 0 ? s.path : s.path.replace(/^\/search/, alias === 1 ? '/search.json' : '/api/search'), headers: browserHeaders(src.identity, 'document', `${origin}/search`) };
  const headers = browserHeaders(src.identity, 'form', `${origin}/search`);
  headers.origin = origin;
  headers['content-type'] = 'application/x-www-form-urlencoded';
  return { method: 'POST', path: s.path, headers, body: s.body };
}

/**
 * Query parameters a search page accepts and ignores, named as sites name them (words, not ids, so a
 * shield cannot fold them into one random key): each of the first `vary` is added with probability
 * one half, its value 1 to 63 characters long. 2^vary sets of keys, each value in one of six
 * size classes: a flood in which nearly every request has a query shape never seen before.
 */
const SEARCH_EXTRAS = ['page', 'sort', 'lang', 'order', 'view', 'type', 'region', 'category', 'from', 'format', 'filter', 'limit', 'ref', 'source', 'period', 'display'] as const;

function varied(rng: Rng, vary: number): string {
  let out = '';
  for (let i = 0; i < Math.min(vary, SEARCH_EXTRAS.length); i++) {
    if (rng.next() < 0.5) out += `&${SEARCH_EXTRAS[i]}=${randomToken(rng, Math.floor(2 ** (rng.next() * 6)))}`;
  }
  return out;
}

/** The mix of a distributed flood: target-list GETs (about 38% with random placeholders) and login POSTs. */
function ddosiaMix(rng: Rng, src: FloodSource, origin: string): FloodRequest {
  return rng.next() < 0.2 ? loginPost(rng, src, origin) : listGet(rng, src, origin, 0.38);
}

const num = (d: number, doc: string, min?: number, max?: number): ParamDef => ({ default: d, doc, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) });
/** Challenges each bot solves during its flood: the parameter of every scenario whose bots solve them. */
const SOLVES = num(1, 'challenges each bot solves during the flood', 0, 1000);
/** Bots that keep every cookie they are given and solve their first `solves` challenges as a browser would. */
const solving = (ctx: ScenarioContext, p: Record<string, number>): Partial<FloodSpec> => ({
  solver: ctx.solver, solves: p.solves!, keepCookies: true,
  ...((p.forget ?? 0) >= 1 ? { forgetOnRefusal: { newAgent: p.forget! >= 2 } } : {}),
});
/**
 * Bots that claim every GET is a page's own subresource — an image fetched by the page (Fetch
 * Metadata, https://www.w3.org/TR/fetch-metadata/: `Sec-Fetch-Mode: no-cors`, `Sec-Fetch-Site:
 * same-origin`) — which a browser cannot solve a proof-of-work for; the shield lets such a request
 * pass a signature's proof-of-work with the no-JavaScript cookie at a customer's pace (docs/challenge.md).
 */
const FORGE = num(0, '1: every GET claims to be a page\'s own image (Sec-Fetch-Mode no-cors, Sec-Fetch-Site same-origin, Sec-Fetch-Dest image)', 0, 1);
function forged(request: FloodSpec['request']): FloodSpec['request'] {
  return (rng, s) => {
    const r = request(rng, s);
    if (r.method !== 'GET') return r;
    const headers: Record<string, string> = { ...r.headers, accept: 'image/avif,image/webp,image/png,image/*;q=0.8,*/*;q=0.5', 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' };
    delete headers['upgrade-insecure-requests'];
    return { ...r, headers };
  };
}
/** Tools that start over when refused (flood.ts `forgetOnRefusal`). */
const FORGET = num(0, '1: a bot refused (503, or a 429 it does not solve) throws its cookies away and starts over (its solves back); 2: also with another browser\'s User-Agent', 0, 2);

function flood(ctx: ScenarioContext, label: string, p: { sources: number; connections: number; rate: number; timeoutS?: number }, request: FloodSpec['request'], extra: Partial<FloodSpec> = {}): FloodSpec {
  return {
    label, sources: p.sources, connectionsPerSource: p.connections, ratePerS: p.rate, startS: ctx.startS, stopS: ctx.stopS, request,
    ...(p.timeoutS !== undefined ? { timeoutMs: p.timeoutS * 1000 } : {}), ...extra,
  };
}

function slowloris(ctx: ScenarioContext, p: Record<string, number>, label = 'slowloris'): SlowSpec {
  return { label, kind: 'headers', sources: p.sources ?? 50, connections: p.connections!, openRatePerS: p.openRate!, intervalMs: p.intervalMs!, path: '/', bodyBytes: 0, startS: ctx.startS, stopS: ctx.stopS };
}

/** Pulses of `pulse` seconds separated by gaps, drawn once per run (time-scaled). */
function waveSchedule(ctx: ScenarioContext, p: Record<string, number>): (tS: number) => number {
  const windows: Array<[number, number]> = [];
  let t = ctx.startS;
  for (let i = 0; i < 1000 && t < ctx.stopS; i++) {
    const pulse = ctx.rng.between(p.pulseMinS!, p.pulseMaxS!) / ctx.timeScale;
    windows.push([t, t + pulse]);
    t += pulse + ctx.rng.between(p.gapMinS!, p.gapMaxS!) / ctx.timeScale;
  }
  return (tS) => (windows.some(([a, b]) => tS >= a && tS < b) ? 1 : 0);
}

/** A light target-list flood beside a slow attack, so the origin works near capacity while slots are held. */
function lightFlood(ctx: ScenarioContext, label: string, p: Record<string, number>): FloodSpec[] {
  if (!(p.floodRate! > 0)) return [];
  return [flood(ctx, `${label}/flood`, { sources: p.floodSources!, connections: 4, rate: p.floodRate! }, (rng, s) => listGet(rng, s, ctx.origin, 0.38))];
}

const lightFloodParams = (): Record<string, ParamDef> => ({
  floodRate: num(20, 'light target-list flood beside it, req/s (0 = none)', 0),
  floodSources: num(100, 'sources of the light flood', 1, 100_000),
});

/** Parameters of a message flood inside WebSocket tunnels (websocket-flood and its variants). */
const messageFloodParams = (): Record<string, ParamDef> => ({
  connections: num(600, 'tunnels held at once (attempted)', 1, 50_000), sources: num(200, 'source addresses', 1, 10_000),
  openRate: num(600, 'new handshakes per second at most', 1), intervalMs: num(1000, 'ms between two messages on a tunnel (real time)', 10),
});

/** Tunnels on the live-tracking route, each sending the live page's refresh every interval. */
function messageFlood(label: string, p: Record<string, number>, ctx: ScenarioContext): SlowSpec {
  return { label, kind: 'websocket', messages: true, sources: p.sources!, connections: p.connections!, openRatePerS: p.openRate!, intervalMs: p.intervalMs!, path: '/live/parcel/', bodyBytes: 0, startS: ctx.startS, stopS: ctx.stopS };
}

const WARMUP_PAGES = ['/', '/track', '/search', '/track/:id', '/bank/login', '/static/site.css'] as const;

/** The pages a customer loads while browsing: home first, then tracking, search, a lookup, the login page. */
function warmupPage(rng: Rng, i: number): string {
  const p = i === 0 ? '/' : rng.pick(WARMUP_PAGES);
  if (p === '/search') return `/search?q=${rng.pick(WORDS)}`;
  if (p === '/track/:id') return `/track/${parcelId(rng)}`;
  return p;
}

/**
 * What a bot logged in to an account sends: the pages and data only a customer reaches (the account
 * page, its data API), payment creations on the critical route, and target-list GETs.
 */
function accountMix(rng: Rng, src: FloodSource, origin: string): FloodRequest {
  const roll = rng.next();
  const referer = `${origin}/bank/account`;
  if (roll < 0.3) return { method: 'GET', path: '/bank/account', headers: browserHeaders(src.identity, 'document', referer) };
  if (roll < 0.55) return { method: 'GET', path: `/bank/api/${rng.pick(ACCOUNT_DATA)}`, headers: browserHeaders(src.identity, 'json', referer) };
  if (roll < 0.75) {
    const headers = browserHeaders(src.identity, 'json-post', referer);
    headers.origin = origin;
    headers['content-type'] = 'application/json';
    const body = JSON.stringify({ amount: (rng.int(500, 50_000) / 100).toFixed(2), payee: `FR76${randomToken(rng, 10)}` });
    return { method: 'POST', path: '/api/pay/authorizations', headers, body };
  }
  return listGet(rng, src, origin, 0.38);
}

/**
 * Bots logged in to accounts, flooding what only a customer reaches (`accountMix`) after a warm-up:
 * each its own account and session, or, with `sessions`, that many sessions logged in once each and
 * replayed by every bot beside its own cookies.
 */
function accountsScenario(name: string, defaults: [number, number, number], summary: string, sessions?: ParamDef): Scenario {
  return {
    name, summary,
    params: {
      ...floodParams(...defaults),
      ...(sessions ? { sessions } : {}),
      warmupS: num(10, 'seconds of browsing and logging in before the attack (the attack starts then, at most half the run)', 1, 1800),
      pages: num(1, 'pages each bot loads in the warm-up, before any login', 1, 100),
      solves: SOLVES,
      relogins: num(0, 'logins each bot may make again during the flood when its session is refused (429/401/403 to a request carrying it), at most one every reloginGapS seconds', 0, 1000),
      reloginGapS: num(2, 'seconds between two logins of one bot, at least', 0.1, 3600),
      reloginFresh: num(0, '1: a bot logs in again as a new client — its cookies thrown away, from another address with another browser\'s agent — as an attacker does once it sees its sessions refused', 0, 1),
    },
    leadS: (p) => p.warmupS!,
    plan: (p, ctx) => ({
      floods: [flood(ctx, name, p as never, (rng, s) => accountMix(rng, s, ctx.origin), {
        ...solving(ctx, p),
        // 0 (the default) leaves the flood as it was before bots logged in again: no `relogin` at all.
        ...(Math.floor(p.relogins!) > 0 ? { relogin: { times: Math.floor(p.relogins!), gapS: p.reloginGapS!, ...(p.reloginFresh! >= 1 ? { fresh: true } : {}) } } : {}),
        warmup: {
          fromS: 0, pages: p.pages!, page: warmupPage,
          login: { password: ctx.password, user: (i) => `member${700000 + i}`, ...(p.sessions !== undefined ? { share: Math.min(p.sessions, p.sources!) } : {}) },
        },
      })], slow: [],
    }),
  };
}

const floodParams = (rate: number, sources: number, connections: number): Record<string, ParamDef> => ({
  rate: num(rate, 'total requests per second offered', 0.1),
  sources: num(sources, 'distinct source addresses', 1, 100_000),
  connections: num(connections, 'keep-alive connections per source (its concurrency)', 1, 256),
  timeoutS: num(5, 'seconds a bot waits for an answer before it gives up on the request (a person gives up at 5; a tool that never gives up holds its connections until answered)', 0.5, 600),
});

/**
 * Bots that browse like customers before their attack (`warmupS` of `pages` page loads each, cookies
 * kept, challenges solved), then flood from the same addresses with the same identities and cookies:
 * `defaults` are the flood's rate, sources and connections per source.
 */
function browseScenario(name: string, defaults: [number, number, number], summary: string): Scenario {
  return {
    name, summary,
    params: {
      ...floodParams(...defaults),
      warmupS: num(10, 'seconds of browsing before the attack (the attack starts then, at most half the run)', 1, 1800),
      pages: num(3, 'pages each bot loads during the warm-up', 1, 100),
      solves: SOLVES,
    },
    leadS: (p) => p.warmupS!,
    plan: (p, ctx) => ({
      floods: [flood(ctx, name, p as never, (rng, s) => ddosiaMix(rng, s, ctx.origin), {
        ...solving(ctx, p), warmup: { fromS: 0, pages: p.pages!, page: warmupPage },
      })], slow: [],
    }),
  };
}

/**
 * Event streams held from many sources (`/live/events/{random}`, asked for as EventSource asks),
 * a light target-list flood beside them; with `browse`, each source browses like a customer first
 * and its streams carry the cookies it kept.
 */
function streamHoldScenario(name: string, browse: boolean, summary: string): Scenario {
  return {
    name, summary,
    params: {
      connections: num(6000, 'streams held at once (attempted)', 1, 50_000), sources: num(400, 'source addresses', 1, 10_000),
      openRate: num(1500, 'new streams per second at most', 1),
      fetch: num(0, '1: the streams are read as a fetch() reads a body (Accept: */*, a React or LLM-chat client), not as EventSource asks: nothing says they are streams until their heads', 0, 1),
      ...(browse ? {
        warmupS: num(10, 'seconds of browsing before the attack (the attack starts then, at most half the run)', 1, 1800),
        pages: num(2, 'pages each bot loads during the warm-up', 1, 100),
      } : {}),
      ...lightFloodParams(),
    },
    ...(browse ? { leadS: (p: Record<string, number>) => p.warmupS! } : {}),
    plan: (p, ctx) => ({
      floods: lightFlood(ctx, name, p),
      slow: [{
        label: name, kind: 'stream', sources: p.sources!, connections: p.connections!, openRatePerS: p.openRate!, intervalMs: 1000, path: '/live/events/', bodyBytes: 0, startS: ctx.startS, stopS: ctx.stopS,
        ...(p.fetch === 1 ? { accept: '*/*' } : {}),
        ...(browse ? { warmup: { fromS: 0, pages: p.pages!, page: warmupPage } } : {}),
      }],
    }),
  };
}

/**
 * Challenge-solving bots (target-list GETs, cookies kept, `solves` challenges each) while the
 * legitimate population grows by `factor` at the onset: the newcomers. `defaults` are the flood's
 * rate, sources and connections per source.
 */
function newcomersScenario(name: string, defaults: [number, number, number], summary: string, request: (origin: string) => FloodSpec['request'] = (origin) => (rng, s) => listGet(rng, s, origin, 0.38)): Scenario {
  return {
    name, summary,
    params: { ...floodParams(...defaults), solves: SOLVES, forget: FORGET, forge: FORGE, factor: num(2, 'legitimate population multiplier at the onset (the newcomers)', 1, 20) },
    plan: (p, ctx) => ({
      floods: [flood(ctx, name, p as never, p.forge! >= 1 ? forged(request(ctx.origin)) : request(ctx.origin), solving(ctx, p))],
      slow: [], crowd: { factor: p.factor!, atS: ctx.startS },
    }),
  };
}

/** `s` with the default of its parameter `k` set to `v`. */
function withDefault(s: Scenario, k: string, v: number): Scenario {
  const d = s.params[k];
  if (!d) throw new Error(`scenario ${s.name} has no parameter "${k}"`);
  return { ...s, params: { ...s.params, [k]: { ...d, default: v } } };
}

/** Every scenario, by name. */
export const SCENARIOS: Record<string, Scenario> = {
  none: { name: 'none', summary: 'No attack: the legitimate baseline.', params: {}, plan: () => ({ floods: [], slow: [] }) },
  'single-flood': {
    name: 'single-flood', summary: 'One source floods target-list URLs (search, tracking, home, login page) over many connections.',
    params: floodParams(500, 1, 64),
    plan: (p, ctx) => ({ floods: [flood(ctx, 'single-flood', p as never, (rng, s) => listGet(rng, s, ctx.origin, 0))], slow: [] }),
  },
  'distributed-low-rate': {
    name: 'distributed-low-rate', summary: 'Thousands of sources, each under 10 req/s (under per-IP limits): search, tracking, login; ~38% cache-busting placeholders.',
    params: floodParams(1000, 2000, 1),
    plan: (p, ctx) => {
      if (p.rate! / p.sources! >= 10) throw new Error(`distributed-low-rate: ${p.rate} req/s over ${p.sources} sources is ${(p.rate! / p.sources!).toFixed(1)} req/s per source; must stay under 10`);
      return { floods: [flood(ctx, 'distributed-low-rate', p as never, (rng, s) => ddosiaMix(rng, s, ctx.origin))], slow: [] };
    },
  },
  'connection-churn': {
    name: 'connection-churn', summary: 'Distributed flood where every request opens a new connection and closes it after the answer (Connection: close), as many botnet HTTP tools do: a TCP accept and a parse per request.',
    params: floodParams(600, 1000, 2),
    plan: (p, ctx) => ({
      floods: [flood(ctx, 'connection-churn', p as never, (rng, s) => ddosiaMix(rng, s, ctx.origin), { freshConnections: true })], slow: [],
    }),
  },
  'pipeline-flood': {
    name: 'pipeline-flood', summary: 'Target-list GETs written ahead on each connection (HTTP/1.1 pipelining, `depth` per connection): few connections, many requests in flight on each.',
    params: { ...floodParams(500, 20, 4), depth: num(16, 'requests written ahead on each connection before the first answer', 1, 256) },
    plan: (p, ctx) => ({ floods: [flood(ctx, 'pipeline-flood', p as never, (rng, s) => listGet(rng, s, ctx.origin, 0), { pipelining: p.depth! })], slow: [] }),
  },
  'h2-multiplex-flood': {
    name: 'h2-multiplex-flood', summary: 'The HTTP/2 counterpart of pipeline-flood: target-list GETs from few sources, each on one connection carrying `streams` concurrent streams (undici with allowH2) — many requests in flight on each connection, none waiting for another\'s answer; per-connection concurrency means nothing. Needs an https:// target that offers h2 (`bench ddos --tls --h2`); against one that does not, the same requests are pipelined over HTTP/1.1 (pipeline-flood).',
    params: { ...floodParams(500, 20, 1), streams: num(64, 'concurrent streams per connection', 1, 1000) },
    plan: (p, ctx) => ({ floods: [flood(ctx, 'h2-multiplex-flood', p as never, (rng, s) => listGet(rng, s, ctx.origin, 0.38), { pipelining: p.streams!, h2: true })], slow: [] }),
  },
  'pipeline-solver': {
    name: 'pipeline-solver', summary: 'pipeline-flood by bots that keep their cookies and solve the first `solves` challenges they meet (same protocol and CPU as a browser), then write requests ahead under their clearance: a token holder\'s requests in flight on few connections.',
    params: { ...floodParams(600, 50, 4), depth: num(16, 'requests written ahead on each connection before the first answer', 1, 256), solves: SOLVES },
    plan: (p, ctx) => ({
      floods: [flood(ctx, 'pipeline-solver', p as never, (rng, s) => listGet(rng, s, ctx.origin, 0.38), { pipelining: p.depth!, ...solving(ctx, p) })], slow: [],
    }),
  },
  'cache-buster': {
    name: 'cache-buster', summary: 'Search and tracking URLs with random query parameters, so no cache can answer them.',
    params: floodParams(600, 200, 4),
    plan: (p, ctx) => ({
      floods: [flood(ctx, 'cache-buster', p as never, (rng, s) => {
        let r = listGet(rng, s, ctx.origin, 1);
        for (let i = 0; i < 4 && !(r.path.startsWith('/search') || r.path.startsWith('/track')); i++) r = listGet(rng, s, ctx.origin, 1);
        return r;
      })], slow: [],
    }),
  },
  'login-flood': {
    name: 'login-flood', summary: 'POST /bank/login with random credentials from many sources (the most expensive route).',
    params: floodParams(400, 500, 2),
    plan: (p, ctx) => ({ floods: [flood(ctx, 'login-flood', p as never, (rng, s) => loginPost(rng, s, ctx.origin))], slow: [] }),
  },
  'upload-flood': {
    name: 'upload-flood', summary: 'POST /bank/login with a large form body (padding after random credentials) from many sources: bytes to read, buffer and spool, not requests.',
    params: { ...floodParams(100, 200, 2), kib: num(256, 'KiB of padding in each body', 1, 64 * 1024) },
    plan: (p, ctx) => {
      const padding = 'x'.repeat(p.kib! * 1024);
      return { floods: [flood(ctx, 'upload-flood', p as never, (rng, s) => uploadPost(rng, s, ctx.origin, padding))], slow: [] };
    },
  },
  slowloris: {
    name: 'slowloris', summary: 'Connections that send a request head one header line at a time and never finish it.',
    params: {
      connections: num(1000, 'connections held at once', 1, 20_000), sources: num(100, 'source addresses', 1, 10_000),
      openRate: num(200, 'new connections per second at most', 1), intervalMs: num(5000, 'ms between two header lines (real time, not scaled)', 100),
    },
    plan: (p, ctx) => ({ floods: [], slow: [slowloris(ctx, p)] }),
  },
  'connect-flood': {
    name: 'connect-flood', summary: 'Connections opened and closed at once without a byte (a connect()/close() loop), spread over many sources: an accept, a socket and a close per connection and no request to judge; a light target-list flood beside it.',
    params: {
      openRate: num(2000, 'connections opened per second', 1), sources: num(2000, 'source addresses', 1, 10_000),
      connections: num(2000, 'connections open at once, at most (each closes as soon as it is established)', 1, 20_000),
      ...lightFloodParams(),
    },
    plan: (p, ctx) => ({
      floods: lightFlood(ctx, 'connect-flood', p),
      slow: [{ label: 'connect-flood', kind: 'connect', sources: p.sources!, connections: p.connections!, openRatePerS: p.openRate!, intervalMs: 1000, path: '/', bodyBytes: 0, startS: ctx.startS, stopS: ctx.stopS }],
    }),
  },
  'h2-rapid-reset': {
    name: 'h2-rapid-reset', summary: 'HTTP/2 rapid reset (CVE-2023-44487) over TLS: each connection opens GET streams and cancels each at once (HEADERS then RST_STREAM), never waiting for an answer — two frames a request for the client, a request each for the target; a light target-list flood beside it. Needs an https:// target that offers h2 (`bench ddos --tls --h2`); against one that does not, its connections are answered no-h2.',
    params: {
      connections: num(20, 'connections held at once', 1, 5_000), sources: num(20, 'source addresses', 1, 10_000),
      openRate: num(20, 'new connections per second at most (reopening what the target closes)', 1),
      intervalMs: num(20, 'ms between two bursts of streams on a connection (real time)', 5),
      streams: num(2, 'streams opened and cancelled per connection and burst', 1, 1000),
      ...lightFloodParams(),
    },
    plan: (p, ctx) => ({
      floods: lightFlood(ctx, 'h2-rapid-reset', p),
      slow: [{ label: 'h2-rapid-reset', kind: 'h2-reset', sources: p.sources!, connections: p.connections!, openRatePerS: p.openRate!, intervalMs: p.intervalMs!, streamsPerInterval: p.streams!, path: '/search', bodyBytes: 0, startS: ctx.startS, stopS: ctx.stopS }],
    }),
  },
  'h2-slow-post': {
    name: 'h2-slow-post', summary: 'Slow POST on HTTP/2 streams over TLS: each connection holds `streams` POST /bank/login streams open, each announcing a large body and sending chunkBytes per interval — a connection\'s worth of slow requests on every connection, where HTTP/1.1 holds one; a light target-list flood beside it. Needs an https:// target that offers h2 (`bench ddos --tls --h2`).',
    params: {
      connections: num(50, 'connections held at once', 1, 5_000), sources: num(50, 'source addresses', 1, 10_000),
      openRate: num(50, 'new connections per second at most', 1), intervalMs: num(5000, 'ms between two body chunks (real time)', 100),
      streams: num(100, 'streams held open per connection', 1, 1000), chunkBytes: num(1, 'body bytes per stream and chunk', 1, 16_384),
      bodyBytes: num(65536, 'Content-Length announced', 1),
      ...lightFloodParams(),
    },
    plan: (p, ctx) => ({
      floods: lightFlood(ctx, 'h2-slow-post', p),
      slow: [{ label: 'h2-slow-post', kind: 'h2-body', sources: p.sources!, connections: p.connections!, openRatePerS: p.openRate!, intervalMs: p.intervalMs!, streamsPerInterval: p.streams!, chunkBytes: p.chunkBytes!, path: '/bank/login', bodyBytes: p.bodyBytes!, startS: ctx.startS, stopS: ctx.stopS }],
    }),
  },
  'slow-post': {
    name: 'slow-post', summary: 'POST /bank/login announcing a large body, then chunkBytes per interval; a light target-list flood beside it.',
    params: {
      connections: num(500, 'connections held at once', 1, 20_000), sources: num(50, 'source addresses', 1, 10_000),
      openRate: num(100, 'new connections per second at most', 1), intervalMs: num(5000, 'ms between two body chunks (real time)', 100),
      chunkBytes: num(1, 'body bytes per chunk (raise it to stay above a minimum body rate)', 1, 65_536),
      bodyBytes: num(65536, 'Content-Length announced', 1),
      ...lightFloodParams(),
    },
    plan: (p, ctx) => ({
      floods: lightFlood(ctx, 'slow-post', p),
      slow: [{ label: 'slow-post', kind: 'body', sources: p.sources!, connections: p.connections!, openRatePerS: p.openRate!, intervalMs: p.intervalMs!, chunkBytes: p.chunkBytes!, path: '/bank/login', bodyBytes: p.bodyBytes!, startS: ctx.startS, stopS: ctx.stopS }],
    }),
  },
  'slow-read': {
    name: 'slow-read', summary: 'Complete GETs of /static/app.js (a large, cacheable bundle) read readBytes per interval on keep-alive connections, asked again when done; a light target-list flood beside it.',
    params: {
      connections: num(600, 'connections held at once', 1, 20_000), sources: num(150, 'source addresses', 1, 10_000),
      openRate: num(150, 'new connections per second at most', 1), intervalMs: num(1000, 'ms between two reads (real time)', 10),
      readBytes: num(16, 'bytes read per interval, at most', 1, 65_536),
      ...lightFloodParams(),
    },
    plan: (p, ctx) => ({
      floods: lightFlood(ctx, 'slow-read', p),
      slow: [{ label: 'slow-read', kind: 'read', sources: p.sources!, connections: p.connections!, openRatePerS: p.openRate!, intervalMs: p.intervalMs!, readBytes: p.readBytes!, path: '/static/app.js', bodyBytes: 0, startS: ctx.startS, stopS: ctx.stopS }],
    }),
  },
  'websocket-hold': {
    name: 'websocket-hold', summary: 'WebSocket handshakes on the live-tracking route from many sources, each tunnel then kept open with a ping per interval: descriptors held on both sides of the proxy; a light target-list flood beside it.',
    params: {
      connections: num(6000, 'tunnels held at once (attempted)', 1, 50_000), sources: num(400, 'source addresses', 1, 10_000),
      openRate: num(1500, 'new handshakes per second at most', 1), intervalMs: num(10000, 'ms between two pings on a tunnel (real time)', 100),
      ...lightFloodParams(),
    },
    plan: (p, ctx) => ({
      floods: lightFlood(ctx, 'websocket-hold', p),
      slow: [{ label: 'websocket-hold', kind: 'websocket', sources: p.sources!, connections: p.connections!, openRatePerS: p.openRate!, intervalMs: p.intervalMs!, path: '/live/parcel/', bodyBytes: 0, startS: ctx.startS, stopS: ctx.stopS }],
    }),
  },
  'stream-hold': streamHoldScenario('stream-hold', false, 'Event streams (Server-Sent Events) on the live-tracking feed from many sources, asked for as a browser\'s EventSource asks and held, every event read: live pages left open by the thousand, each a connection held on both sides of a proxy — and, where a proxy counts an answer in flight until it ends, a slot of the upstream for good; a light target-list flood beside it.'),
  'stream-browse-hold': streamHoldScenario('stream-browse-hold', true, 'stream-hold from bots that browsed like customers first (browser headers, normal pages, cookies kept): their streams\' requests carry what customers\' carry, so the shield lets them through where it challenges anonymous ones; each stream then holds its place and a connection both sides, with an event every 2 s to relay.'),
  'websocket-flood': {
    name: 'websocket-flood', summary: 'WebSocket tunnels on the live-tracking route from many sources, each sending the application a message to act on (a status refresh, one lookup at the origin) every interval: a request flood inside tunnels, past every per-request defence, each tunnel at a person\'s pace.',
    params: messageFloodParams(),
    plan: (p, ctx) => ({ floods: [], slow: [messageFlood('websocket-flood', p, ctx)] }),
  },
  'closed-loop': withDefault(newcomersScenario('closed-loop', [600, 600, 1],
    'Challenge-solving bots (target-list GETs, cookies kept) that loop one request at a time on each connection and wait for every answer as long as it takes (60 s, k6\'s default): they never give up on a request, so they stay in any queue that keeps them, where people give up after seconds; the legitimate population grows by `factor` at the onset (the newcomers).'),
  'timeoutS', 60),
  'websocket-browse-flood': {
    name: 'websocket-browse-flood', summary: 'websocket-flood from bots that browsed like customers first (browser headers, normal pages, cookies kept): their tunnels\' handshakes carry what customers\' carry, so their messages come from identities with a standing, not from anonymous tunnels.',
    params: {
      ...messageFloodParams(),
      warmupS: num(10, 'seconds of browsing before the attack (the attack starts then, at most half the run)', 1, 1800),
      pages: num(2, 'pages each bot loads during the warm-up', 1, 100),
    },
    leadS: (p) => p.warmupS!,
    plan: (p, ctx) => ({ floods: [], slow: [{ ...messageFlood('websocket-browse-flood', p, ctx), warmup: { fromS: 0, pages: p.pages!, page: warmupPage } }] }),
  },
  'header-randomizer': {
    name: 'header-randomizer', summary: 'Every request picks a new user agent, accept-language, referer from the same pool real browsers use.',
    params: floodParams(600, 300, 2),
    plan: (p, ctx) => ({
      floods: [flood(ctx, 'header-randomizer', p as never, (rng, s) => {
        const r = listGet(rng, { ...s, identity: rng.pick(ALL_IDENTITIES) }, ctx.origin, 0.38);
        if (rng.next() < 0.5) r.headers['accept-language'] = rng.pick(ALL_IDENTITIES).acceptLanguage;
        return r;
      })], slow: [],
    }),
  },
  'challenge-solver': {
    name: 'challenge-solver', summary: 'Bots solve the first `solves` challenges they meet (same protocol and CPU as a browser), keep their cookies and flood with their clearance.',
    params: { ...floodParams(500, 100, 4), solves: SOLVES },
    plan: (p, ctx) => ({
      floods: [flood(ctx, 'challenge-solver', p as never, (rng, s) => listGet(rng, s, ctx.origin, 0.38), solving(ctx, p))], slow: [],
    }),
  },
  'costly-search': {
    name: 'costly-search', summary: 'Bots at a person\'s pace (0.6 req/s each by default) flood the costliest request a site has: searches of `terms` terms (one random, so no cache holds them), each costing the origin a dozen pages; they keep their cookies and solve their challenge.',
    params: {
      ...floodParams(600, 1000, 2),
      solves: SOLVES,
      terms: num(8, 'terms of each search (the demo origin charges a search lookup per term, up to 32)', 1, 32),
      vary: num(0, 'ignored parameters that may ride along each search (each with probability 1/2, values of 1-63 characters): up to 16, so almost every search has a query shape never seen before', 0, 16),
      cheap: num(0, 'share of the searches sent as one word as long as the search (cheap to the origin, the same length): decoys that make a costly query\'s length read as cheap', 0, 1),
      alias: num(0, '1: the searches go to /search.json, an alias the application serves from the same action (customers use /search); 2: to /api/search, another route to the same action (the mobile app\'s API) that no customer of the bench uses', 0, 2),
      head: num(0, '1: the searches are sent as HEAD, which the origin answers with the same lookups and no content (RFC 9110 §9.3.2)', 0, 1),
    },
    plan: (p, ctx) => ({
      floods: [flood(ctx, 'costly-search', p as never, (rng, s) => costlySearch(rng, s, ctx.origin, p.terms!, p.vary!, p.cheap!, { searchInPath: ctx.searchInPath === true, searchPathSuffix: ctx.searchPathSuffix ?? '', searchByPost: ctx.searchByPost === true }, p.head === 1, p.alias), solving(ctx, p))], slow: [],
    }),
  },
  'preflight-flood': {
    name: 'preflight-flood', summary: 'CORS preflights (OPTIONS, no cookies) from many sources at the login, the payment API and tracking lookups: requests no challenge may answer.',
    params: floodParams(600, 1000, 3),
    plan: (p, ctx) => ({ floods: [flood(ctx, 'preflight-flood', p as never, (rng, s) => preflight(rng, s))], slow: [] }),
  },
  'browse-then-flood': browseScenario('browse-then-flood', [600, 100, 32],
    'Bots browse like customers before the attack (browser headers, normal pages, cookies kept, challenges solved), then flood from the same addresses with the same identities and cookies.'),
  'browse-crowd': browseScenario('browse-crowd', [4000, 2000, 4],
    'browse-then-flood from a crowd: 2,000 bots browse like customers (2 pages each in the warm-up, cookies kept, challenges solved), then each floods at 2 req/s ' +
    '(the rate an independent run sent from 2,000 sources), under any per-address limit; their browsing alone saturates a small origin, so the attack is on before the flood and no one earned a reputation.'),
  'account-holders': accountsScenario('account-holders', [600, 50, 64],
    'Bots that hold real accounts: each browses like a customer, logs in with its own account\'s credentials (cookies kept, challenges solved), ' +
    'then floods what only a logged-in customer reaches (account pages, their data API, payment creations on the critical route) and target-list pages, with its session; ' +
    'with `relogins`, a bot whose session is refused logs in again and floods on with the new one.'),
  'session-replay': accountsScenario('session-replay', [600, 200, 8],
    'A few customers\' sessions, stolen or bought, replayed from a botnet: a handful of bots log in during the warm-up, ' +
    'every bot browses like a customer (cookies kept, challenges solved) and then floods what only a logged-in customer reaches with one of those sessions (account-holders\' mix), from its own address; ' +
    'with `relogins`, a bot whose session is refused logs in to that session\'s account and floods on with a session of its own.',
    num(4, 'sessions replayed by all the bots (each logged in once, by one bot)', 1, 1000)),
  'newcomers-under-attack': newcomersScenario('newcomers-under-attack', [500, 100, 4],
    'Challenge-solving bots flood while customers who never visited before arrive (the population x factor at the onset): ' +
    'people coming to see why the site is slow, with no reputation, competing with bots that also keep cookies and solve challenges.'),
  'solver-crowd': newcomersScenario('solver-crowd', [600, 2000, 2],
    'newcomers-under-attack from a crowd of bots, each at a person\'s pace (by default 2,000 sources at 0.3 req/s each): ' +
    'every bot keeps its cookies and solves its challenge, so no identity, address or pace sets it apart from a newcomer; only customers known before the attack can be told from it.'),
  'login-crowd': newcomersScenario('login-crowd', [600, 2000, 1],
    'Credential stuffing from a crowd of bots at a person\'s pace (by default 2,000 sources at 0.3 req/s each), keeping cookies and solving challenges: ' +
    'each loads the login form and posts a guessed login from it, as a customer would, while newcomers arrive (the population x factor at the onset). The logins are backed by their page and on the critical route; only the origin\'s refusals set them apart.',
    formThenGuess),
  'sleeper-crowd': {
    name: 'sleeper-crowd', needsTargetKey: true,
    summary: 'solver-crowd from bots that hold reputations the site issued long before (`ageS`, a day by default): farmed by browsing from their own addresses ' +
      'over days, as a botnet of residential addresses can, then replayed at the onset from those addresses with the same agents, each bot at a person\'s pace. ' +
      'Per request, identity, address and pace they hold what a returning customer holds; needs the target\'s key (`rempart bench ddos`).',
    params: {
      ...floodParams(600, 2000, 2), solves: SOLVES,
      ageS: num(86_400, 'how long before the run the bots\' reputations were issued, s (past the shield\'s reputationMinAgeS, 10 min, they are established)', 0, 30 * 86_400),
      factor: num(1, 'legitimate population multiplier at the onset (newcomers)', 1, 20),
      prewakeS: num(0, 'seconds before the onset in which each bot loads one page with its reputation (the shield then saw it before the attack); 0: every bot wakes at the onset', 0, 600),
      rampS: num(0, 'seconds over which the flood ramps from nothing to its rate: the bots join one by one (each bot\'s first request is its first sighting), the first of them before the shield sees an attack; 0: all at the onset', 0, 3600),
    },
    leadS: (p) => Math.max(3, p.prewakeS!),
    plan: (p, ctx) => {
      const farmed = ctx.farmedCookie;
      if (!farmed) throw new Error('sleeper-crowd: the bots hold reputations the target issued before the run, which needs the target\'s key: run it with `rempart bench ddos`');
      return {
        floods: [flood(ctx, 'sleeper-crowd', p as never, (rng, s) => listGet(rng, s, ctx.origin, 0.38), {
          ...solving(ctx, p), initialCookie: (address, userAgent) => farmed(address, userAgent, p.ageS!),
          ...(p.rampS! > 0 ? { schedule: (tS: number) => (tS - ctx.startS) / p.rampS! } : {}),
          ...(p.prewakeS! > 0 ? { warmup: { fromS: Math.max(0, ctx.startS - p.prewakeS!), pages: 1, page: warmupPage } } : {}),
        })],
        slow: [], ...(p.factor! > 1 ? { crowd: { factor: p.factor!, atS: ctx.startS } } : {}),
      };
    },
  },
  'flash-crowd': {
    name: 'flash-crowd', summary: 'A sudden surge of real users (legitimate population x factor): they should be served or queued, not blocked.',
    params: { factor: num(5, 'legitimate population multiplier at the surge', 1, 20) },
    plan: (p, ctx) => ({ floods: [], slow: [], crowd: { factor: p.factor!, atS: ctx.startS } }),
  },
  waves: {
    name: 'waves', summary: 'Distributed flood in pulses of 1-3 minutes with quiet gaps (scaled by --time-scale).',
    params: {
      ...floodParams(800, 1000, 1),
      pulseMinS: num(60, 'shortest pulse, s'), pulseMaxS: num(180, 'longest pulse, s'), gapMinS: num(30, 'shortest gap, s'), gapMaxS: num(90, 'longest gap, s'),
    },
    plan: (p, ctx) => ({ floods: [flood(ctx, 'waves', p as never, (rng, s) => ddosiaMix(rng, s, ctx.origin), { schedule: waveSchedule(ctx, p) })], slow: [] }),
  },
  mixed: {
    name: 'mixed', summary: 'Distributed low-rate (40% of rate), cache-buster (30%), login flood (30%) and slowloris together.',
    params: { ...floodParams(1000, 1500, 1), slowConnections: num(300, 'slowloris connections', 0, 20_000) },
    plan: (p, ctx) => {
      const r = p.rate!;
      const s = p.sources!;
      return {
        floods: [
          flood(ctx, 'mixed/distributed', { sources: Math.ceil(s * 0.6), connections: 1, rate: r * 0.4 }, (rng, src) => ddosiaMix(rng, src, ctx.origin)),
          flood(ctx, 'mixed/cache-buster', { sources: Math.ceil(s * 0.2), connections: 2, rate: r * 0.3 }, (rng, src) => listGet(rng, src, ctx.origin, 1)),
          flood(ctx, 'mixed/login-flood', { sources: Math.ceil(s * 0.2), connections: 2, rate: r * 0.3 }, (rng, src) => loginPost(rng, src, ctx.origin)),
        ],
        slow: p.slowConnections! > 0 ? [slowloris(ctx, { sources: 50, connections: p.slowConnections!, openRate: 100, intervalMs: 5000 }, 'mixed/slowloris')] : [],
      };
    },
  },
};

/** Resolves a scenario's parameters: defaults, then overrides; rejects unknown names and out-of-range values. */
export function resolveParams(s: Scenario, overrides: Record<string, string | number> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, d] of Object.entries(s.params)) out[k] = d.default;
  for (const [k, raw] of Object.entries(overrides)) {
    const d = s.params[k];
    if (!d) throw new Error(`scenario ${s.name} has no parameter "${k}" (has: ${Object.keys(s.params).join(', ') || 'none'})`);
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new Error(`${s.name}.${k}: expected a number, got "${raw}"`);
    if (d.min !== undefined && v < d.min) throw new Error(`${s.name}.${k}: ${v} is below the minimum ${d.min}`);
    if (d.max !== undefined && v > d.max) throw new Error(`${s.name}.${k}: ${v} is above the maximum ${d.max}`);
    out[k] = v;
  }
  return out;
}

/** Looks a scenario up by name, with the list of names in the error. */
export function getScenario(name: string): Scenario {
  const s = SCENARIOS[name];
  if (!s) throw new Error(`unknown scenario "${name}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
  return s;
}
