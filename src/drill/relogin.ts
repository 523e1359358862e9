import { setMaxListeners } from 'node:events';
import type { ChallengeSolver } from './challenge.js';
import { logInWithJar, type JarBot } from './login.js';
import type { WarmupCounts, WarmupSpec } from './warmup.js';

/**
 * How often a flood's bots log in again: `times` logins each at most, one every `gapS` seconds;
 * with `fresh`, each as a new client — its cookies thrown away, from another address with another
 * browser's agent (the flood's `renew`) — as an attacker does once it sees its sessions refused.
 */
export interface ReloginSpec { times: number; gapS: number; fresh?: boolean }

/** A flood's bot as its logins see it: its jar, what it has under way, its budgets. */
export interface ReloggingBot extends JarBot {
  /** With `fresh`: the bot becomes a new client before it logs in again (cookies, address, agent). */
  renew?(): void;
  readonly index: number;
  reloginsLeft: number;
  /** A login is under way: the flood sends nothing from the bot meanwhile. */
  loggingIn: boolean;
  /** A solve is under way (no login starts meanwhile). */
  readonly solving: boolean;
  /** When the bot's last login began, run ms (-Infinity: none yet). */
  lastLoginMs: number;
  /** Challenges the bot may still solve: a login's challenges come out of the flood's budget. */
  solvesLeft: number;
}

/** Logins of a flood's bots whose session was refused. */
export interface Relogins {
  /** An answer to one of the bot's requests: a refusal may start its login again. */
  onAnswer(bot: ReloggingBot, status: number): void;
  /** Abandons the logins under way; resolves once they have let go. */
  stop(): Promise<void>;
}

/** Answers that refuse a bot's session: the shield's 429 past the session's rate, the origin's 401 or 403. */
const SESSION_REFUSALS = new Set([401, 403, 429]);

/** Whether `bot` logs in again on an answer `status` at run time `nowMs`: a refusal, logins left, nothing under way, its last login `gapMs` ago. */
function shouldLogInAgain(bot: ReloggingBot, status: number, nowMs: number, gapMs: number): boolean {
  return SESSION_REFUSALS.has(status) && bot.reloginsLeft > 0 && !bot.loggingIn && !bot.solving && nowMs - bot.lastLoginMs >= gapMs;
}

/** `solver` as a bot's login meets it: within the bot's solves left, each solve reported to `onSolved`. */
function budgetedSolver(bot: ReloggingBot, solver: ChallengeSolver, onSolved: () => void): ChallengeSolver {
  return {
    detect: (res) => solver.detect(res),
    solve: async (res, http, signal) => {
      if (bot.solvesLeft <= 0) return false;
      bot.solvesLeft--;
      const ok = await solver.solve(res, http, signal);
      if (ok) onSolved();
      return ok;
    },
  };
}

/**
 * Bots that log in again as an attacker holding the credentials does when the shield stops trusting
 * a session: on a refused answer, a bot with logins left and none within `gapS` logs in as its
 * warm-up did (`login`, the account of bot index mod `share`) from its own address, identity and
 * jar — with `spec.fresh`, renewed first — and the new session replaces the old in its jar. `counts` gets `relogins` (begun) and
 * `reloggedIn` (landed on the account).
 */
export function createRelogins(
  spec: ReloginSpec, login: NonNullable<WarmupSpec['login']>, env: { origin: string; now(): number; signal: AbortSignal },
  counts: WarmupCounts, solver?: ChallengeSolver, onSolved: () => void = () => undefined,
): Relogins {
  const stopped = new AbortController();
  const signal = AbortSignal.any([env.signal, stopped.signal]);
  // Every login waiting to try again listens on it (login.ts): up to one per bot.
  setMaxListeners(0, signal);
  const underWay = new Set<Promise<void>>();
  counts.relogins = 0;
  counts.reloggedIn = 0;

  const logInAgain = (bot: ReloggingBot): void => {
    bot.reloginsLeft--;
    bot.loggingIn = true;
    if (spec.fresh) bot.renew?.();
    bot.lastLoginMs = env.now();
    counts.relogins = (counts.relogins ?? 0) + 1;
    const user = login.user(login.share === undefined ? bot.index : bot.index % login.share);
    const attempt: Promise<void> = logInWithJar(bot, env.origin, { user, password: login.password }, signal, solver && budgetedSolver(bot, solver, onSolved))
      .then((ok) => { if (ok) counts.reloggedIn = (counts.reloggedIn ?? 0) + 1; }, () => undefined)
      .finally(() => { bot.loggingIn = false; underWay.delete(attempt); });
    underWay.add(attempt);
  };

  return {
    onAnswer(bot, status) {
      if (!signal.aborted && shouldLogInAgain(bot, status, env.now(), spec.gapS * 1000)) logInAgain(bot);
    },
    async stop() {
      stopped.abort();
      await Promise.all(underWay);
    },
  };
}
