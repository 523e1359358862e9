/**
 * Keeps the sessions the origin issued (reputation/sessions.ts) in the shield's SQLite file, and
 * gives them back at start.
 *
 * Why: a logged-in customer's standing is the one a flood cannot get, and a shield restarted
 * during an attack — an operator's first reflex, a crash, a new version — would otherwise forget
 * every session it saw issued: each customer would fall back to the standing of their other cookies
 * until they log in again, which is what an attack makes hardest. Only digests are written (as in
 * memory: a key, not the credential). Changes are written once a second in one transaction, and
 * at stop; a session in use is rewritten only when its expiry moved on by minutes (the table's
 * `takeChanges`), so a busy shield writes what was learned and forgotten, not every request.
 *
 * Only with `storage.database`: without a file nothing outlives the process, and the sessions
 * would only be held twice in memory.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { Service } from '../../core/lifecycle.js';
import type { Config } from '../../config/schema.js';
import type { SqliteDatabase } from '../../console/database.js';
import type { SessionRecord, SessionTable } from './sessions.js';

/** How often learned and forgotten sessions are written. */
export const SESSION_SAVE_EVERY_MS = 1_000;

export function createOriginSessionStore(d: {
  db: SqliteDatabase; sessions: SessionTable; clock: Clock; log: Pick<Logger, 'info' | 'warn'>; everyMs?: number;
}): Service<Config> & { flush(): number } {
  // hard_expires NULL: the cookie named no lifetime (a browser session), only maxAgeS bounds it.
  d.db.exec('CREATE TABLE IF NOT EXISTS origin_sessions (key TEXT PRIMARY KEY, expires INTEGER NOT NULL, hard_expires INTEGER) WITHOUT ROWID');
  const upsert = d.db.prepare('INSERT INTO origin_sessions (key, expires, hard_expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET expires = excluded.expires, hard_expires = excluded.hard_expires');
  const remove = d.db.prepare('DELETE FROM origin_sessions WHERE key = ?');
  const purge = d.db.prepare('DELETE FROM origin_sessions WHERE expires <= ?');
  const all = d.db.prepare('SELECT key, expires, hard_expires AS hardExpires FROM origin_sessions');
  const write = d.db.transaction((changes: ReturnType<SessionTable['takeChanges']>) => {
    for (const c of changes) {
      if ('gone' in c) remove.run(c.key);
      else upsert.run(c.key, Math.round(c.expires), Number.isFinite(c.hardExpires) ? Math.round(c.hardExpires) : null);
    }
  });
  let timer: NodeJS.Timeout | undefined;
  let failing = false;
  const flush = (): number => {
    const changes = d.sessions.takeChanges();
    if (changes.length === 0) return 0;
    try {
      write(changes);
      failing = false;
      return changes.length;
    } catch (e) {
      // Lost from the file only: the sessions stay known in memory; logged once per failing spell.
      if (!failing) d.log.warn({ err: (e as Error).message, changes: changes.length }, 'origin sessions not saved');
      failing = true;
      return 0;
    }
  };
  return {
    name: 'origin-sessions',
    flush,
    start() {
      const now = d.clock.now();
      purge.run(now);
      const rows = all.all() as Array<{ key: string; expires: number; hardExpires: number | null }>;
      const records: SessionRecord[] = rows.map((r) => ({ key: r.key, expires: r.expires, hardExpires: r.hardExpires ?? Infinity }));
      const taken = d.sessions.restore(records, now);
      if (taken > 0) d.log.info({ sessions: taken }, 'origin sessions restored');
      flush(); // what restore evicted past maxEntries
      timer = setInterval(flush, d.everyMs ?? SESSION_SAVE_EVERY_MS);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      flush();
    },
  };
}
