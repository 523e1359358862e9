import { setMaxListeners } from 'node:events';
import { createBrowser } from './browser.js';
import type { ChallengeSolver } from './challenge.js';
import type { BrowserIdentity } from './headers.js';
import type { AttackEnv } from './attack-env.js';
import { logIn } from './login.js';
import type { Rng } from './rng.js';

/** Browsing before an attack: `pages` page loads per bot between `fromS` and the attack's start. */
export interface WarmupSpec {
  fromS: number;
  pages: number;
  page(rng: Rng, pageIndex: number): string;
  /**
   * Bots that hold real accounts: after its pages each bot logs in (the login page, then the form
   * with `user(botIndex)` and the accounts' `password`), keeping the session the site sets.
   */
  login?: {
    readonly password: string;
    user(botIndex: number): string;
    /**
     * Sessions replayed: only bots 0 … share-1 log in, and when the warm-up ends every bot takes the
     * cookies the login of bot (index mod share) was given (its session), beside its own jar — one
     * stolen session replayed from many addresses. Absent: each bot its own account and session.
     */
    readonly share?: number;
  };
}

/** A bot as its warm-up sees it: its address, its browser identity, the jar it fills. */
export interface BrowsingBot {
  readonly index: number;
  readonly address: string | undefined;
  readonly identity: BrowserIdentity;
  readonly cookies: Map<string, string>;
  /** When the bot's last login began, run ms: set by its warm-up, read by a flood whose bots log in again. */
  lastLoginMs?: number;
}

/**
 * What a warm-up did: page loads made and answered 2xx/3xx; logins tried and landed on the account;
 * for bots that log in again when their session is refused, the logins made during the attack and
 * how many landed.
 */
export interface WarmupCounts { pages: number; ok: number; logins?: number; loggedIn?: number; relogins?: number; reloggedIn?: number }

/** A warm-up as the report shows it: its counts, and the bots holding at least one cookie when the flood began. */
export interface WarmupReport extends WarmupCounts { botsWithCookies: number }

/**
 * Warm-up of bots that browse like customers before their attack: each bot is a browser (same
 * identity and address as its attack) loading `pages` pages at random times between `fromS` and
 * `startS`, keeping what the site sets, solving any challenge as a browser does (`solver`,
 * `onSolved` counting each solve); its jar becomes the attack's. Pages are spread so the warm-up
 * looks like customers, not a burst. The attack starts on time whatever the warm-up's state.
 */
export async function browseFirst(
  w: WarmupSpec, startS: number, env: AttackEnv & { origin: string }, bots: readonly BrowsingBot[], warm: WarmupCounts,
  solver?: ChallengeSolver, onSolved?: () => void,
): Promise<void> {
  const fromMs = w.fromS * 1000;
  const toMs = Math.max(fromMs, startS * 1000 - 250);
  const countingSolver: ChallengeSolver | undefined = solver && {
    detect: (res) => solver.detect(res),
    solve: async (res, http, signal) => { const ok = await solver.solve(res, http, signal); if (ok) onSolved?.(); return ok; },
  };
  // Pages still loading when the attack starts are abandoned.
  const end = new AbortController();
  const endTimer = setTimeout(() => end.abort(), Math.max(0, startS * 1000 - env.now()));
  const signal = AbortSignal.any([env.signal, end.signal]);
  setMaxListeners(0, signal, end.signal);
  const share = w.login?.share;
  // What each logging-in bot's login set (its session), for the bots that replay it.
  const sessions = new Map<number, Map<string, string>>();
  const bot = async (src: BrowsingBot): Promise<void> => {
    // A bot that logs in browses in the first 60% of the warm-up: its login (two requests to a
    // busy origin, tried again when refused) must land before the attack starts.
    const pagesToMs = w.login ? fromMs + (toMs - fromMs) * 0.6 : toMs;
    const times = Array.from({ length: w.pages }, () => env.rng.between(fromMs, pagesToMs)).sort((a, b) => a - b);
    // With the cookies the bot already holds (a reputation farmed before the run: sleeper-crowd).
    const browser = createBrowser({ origin: env.origin, localAddress: src.address, identity: src.identity, connections: 2, cookies: src.cookies, ...(countingSolver ? { solver: countingSolver } : {}) });
    let referer: string | undefined;
    try {
      for (const [i, at] of times.entries()) {
        const wait = at - env.now();
        if (wait > 0) await new Promise<void>((resolve) => { const t = setTimeout(resolve, wait); signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true }); });
        if (signal.aborted) break;
        const path = w.page(env.rng, i);
        warm.pages++;
        try {
          const res = await browser.fetch('GET', path, { kind: path.startsWith('/track/') ? 'json' : 'document', ...(referer ? { referer } : {}), timeoutMs: 5_000, signal });
          if (res.status >= 200 && res.status < 400) warm.ok++;
          referer = res.url;
        } catch { /* a page that failed: the bot browses on */ }
      }
      if (w.login && !signal.aborted && (share === undefined || src.index < share)) {
        const before = new Map(browser.cookies);
        src.lastLoginMs = env.now();
        warm.logins = (warm.logins ?? 0) + 1;
        if (await logIn(browser, w.login.user(src.index), w.login.password, signal)) warm.loggedIn = (warm.loggedIn ?? 0) + 1;
        sessions.set(src.index, new Map([...browser.cookies].filter(([k, v]) => before.get(k) !== v)));
      }
    } finally {
      for (const [k, v] of browser.cookies) src.cookies.set(k, v);
      void browser.close().catch(() => undefined);
    }
  };
  await Promise.all(bots.map(bot));
  clearTimeout(endTimer);
  if (share !== undefined) for (const src of bots) for (const [k, v] of sessions.get(src.index % share) ?? []) src.cookies.set(k, v);
}
