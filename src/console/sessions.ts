import type { Clock } from '../core/clock.js';

/** A console session: who logged in, until when, and the token its state-changing requests must echo. */
export interface Session {
  readonly id: string;
  readonly who: string;
  readonly csrf: string;
  readonly expiresAt: number;
}

/** Console sessions in memory (a restart logs everyone out, which is the safe direction). */
export interface SessionStore {
  create(who: string): Session;
  get(id: string | undefined): Session | undefined;
  delete(id: string): void;
  readonly size: number;
}

/** Creates the store; `random(n)` gives n random bytes as base64url (injected for tests). */
export function createSessionStore(opts: { clock: Clock; ttlMs: () => number; random: (bytes: number) => string; max?: number }): SessionStore {
  const sessions = new Map<string, Session>();
  const max = opts.max ?? 1000;
  return {
    create(who) {
      const now = opts.clock.now();
      for (const [id, s] of sessions) if (s.expiresAt <= now) sessions.delete(id);
      // Oldest out first: a login flood cannot grow memory without bound.
      while (sessions.size >= max) sessions.delete(sessions.keys().next().value as string);
      const s: Session = { id: opts.random(32), who, csrf: opts.random(24), expiresAt: now + opts.ttlMs() };
      sessions.set(s.id, s);
      return s;
    },
    get(id) {
      if (!id) return undefined;
      const s = sessions.get(id);
      if (!s) return undefined;
      if (s.expiresAt <= opts.clock.now()) { sessions.delete(id); return undefined; }
      return s;
    },
    delete(id) { sessions.delete(id); },
    get size() { return sessions.size; },
  };
}
