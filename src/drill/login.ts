import { createBrowser, type Browser } from './browser.js';
import type { ChallengeSolver } from './challenge.js';
import type { BrowserIdentity } from './headers.js';

/**
 * A bot's login as a customer's: the form page, then the form posted, following the redirect to the
 * account; tried again (at most 3 times, a second apart) when the site was too busy to answer.
 * Resolves true when the login landed on the account.
 */
export async function logIn(browser: Browser, user: string, password: string, signal: AbortSignal): Promise<boolean> {
  for (let attempt = 0; attempt < 3 && !signal.aborted; attempt++) {
    if (attempt > 0) await new Promise<void>((resolve) => { const t = setTimeout(resolve, 1_000); signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true }); });
    try {
      const page = await browser.fetch('GET', '/bank/login', { kind: 'document', timeoutMs: 5_000, signal });
      if (page.status !== 200) continue;
      const body = new URLSearchParams({ user, password }).toString();
      const res = await browser.fetch('POST', '/bank/login', { kind: 'form', body, referer: page.url, timeoutMs: 5_000, signal });
      if (res.status === 200 && !res.url.endsWith('/bank/login')) return true;
      if (res.status === 401 || res.status === 403) return false; // refused: the credentials are wrong, not the site busy
    } catch { /* no answer in time: tried again while the caller's signal lasts */ }
  }
  return false;
}

/** A bot that keeps its cookies in a jar of its own (a flood's source). */
export interface JarBot {
  readonly address: string | undefined;
  readonly identity: BrowserIdentity;
  readonly cookies: Map<string, string>;
}

/**
 * Logs `bot` in with a browser of its own address, identity and cookies (`logIn`), then writes what
 * the login changed — the new session, cookies it deleted — into the bot's jar, leaving the rest
 * as it is: answers to the bot's earlier requests may still be setting cookies there meanwhile.
 */
export async function logInWithJar(
  bot: JarBot, origin: string, credentials: { user: string; password: string }, signal: AbortSignal, solver?: ChallengeSolver,
): Promise<boolean> {
  const before = new Map(bot.cookies);
  const browser = createBrowser({ origin, localAddress: bot.address, identity: bot.identity, connections: 1, cookies: before, ...(solver ? { solver } : {}) });
  try {
    return await logIn(browser, credentials.user, credentials.password, signal);
  } finally {
    for (const [k, v] of browser.cookies) if (before.get(k) !== v) bot.cookies.set(k, v);
    for (const k of before.keys()) if (!browser.cookies.has(k)) bot.cookies.delete(k);
    void browser.close().catch(() => undefined);
  }
}
