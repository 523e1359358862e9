/**
 * Keeps the reputation roster (reputation/roster.ts) in the shield's SQLite file, and gives it back
 * at start.
 *
 * Why: what sets a farm of reputations apart from the customers is when the shield first saw each
 * one. A roster in memory forgets that at every restart — an operator's first reflex during an
 * attack, a crash, a new version: the whole clientele and the farm are then first seen together in
 * the restart's first seconds, before the detector suspects the attack again, and a farm that woke
 * before the restart ranks with the customers for the rest of the attack (no surge is judged on a
 * roster younger than five minutes). Restored, the customers keep their first sightings, the farm
 * its wake-up, and the time the shield was down counts for no rate.
 *
 * Writes are spread out: every `everyMs` the reputations first presented since the last write (a
 * busy site's new visitors: hundreds), and every `touchEveryMs` the last sighting of those presented
 * since the last touch (its active reputations: up to the roster's 200,000 — in chunks of
 * CHUNK_ROWS a turn of the event loop: a median of ~2 ms each in `npm run bench:detect`, 8 ms at
 * worst with a WAL checkpoint — so the proxy never stalls for the whole write). At stop the whole
 * roster is written at once (~0.9 s for 200,000), and read back at start (~1.2 s).
 * A restart loses at most `everyMs` of first sightings, and a reputation's memory (an hour since
 * its last sighting) may start up to `touchEveryMs` early.
 *
 * Only with `storage.database`. Reputation ids are pseudonymous identifiers of visitors' browsers
 * (random ids inside signed cookies; the address and agent they are bound to are not stored): none
 * is kept past the roster's memory.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { Service } from '../../core/lifecycle.js';
import type { Config } from '../../config/schema.js';
import type { SqliteDatabase } from '../../console/database.js';
import { DEFAULT_ROSTER, type ReputationRoster } from './roster.js';

/** How often reputations first presented are written. */
export const ROSTER_SAVE_EVERY_MS = 10_000;
/** How often the last sightings of active reputations are written. */
export const ROSTER_TOUCH_EVERY_MS = 300_000;
/** Rows written in one transaction, one a turn of the event loop. */
export const CHUNK_ROWS = 1_000;

type Row = [id: string, first: number, last: number, returning: number];

/** The roster's file service. */
export interface RosterStore extends Service<Config> {
  start(): void;
  stop(): void;
  /** Writes at once what is due (the new first sightings; all last sightings too with `touch`): rows written. */
  flush(touch: boolean): number;
  /** Queues what is due to be written a chunk a turn, as the timer does: rows queued. */
  queue(touch: boolean): number;
}

export function createRosterStore(d: {
  db: SqliteDatabase; roster: ReputationRoster;
  /** Wall clock (what is written) and the roster's own monotonic clock. */
  clock: Clock; ticker: Clock;
  log: Pick<Logger, 'info' | 'warn'>;
  /** Since when (wall clock) the attack under way has been (the detector's challengingSince): saved, so a restart continues it. */
  attackSince?: () => number | undefined;
  memoryMs?: number; everyMs?: number; touchEveryMs?: number;
}): RosterStore {
  const memoryMs = d.memoryMs ?? DEFAULT_ROSTER.memoryMs;
  d.db.exec(`CREATE TABLE IF NOT EXISTS reputation_roster (id TEXT PRIMARY KEY, first REAL NOT NULL, last REAL NOT NULL, returns INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS reputation_roster_last ON reputation_roster (last);
    CREATE TABLE IF NOT EXISTS reputation_roster_saved (id INTEGER PRIMARY KEY CHECK (id = 1), saved_at REAL NOT NULL, attack_since REAL)`);
  // A first sighting never moves; a later write only carries the last sighting on.
  const upsert = d.db.prepare('INSERT INTO reputation_roster (id, first, last, returns) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET last = max(last, excluded.last)');
  const purge = d.db.prepare('DELETE FROM reputation_roster WHERE last < ?');
  const all = d.db.prepare('SELECT id, first, last, returns FROM reputation_roster WHERE last >= ?').raw();
  const savedAt = d.db.prepare('SELECT saved_at AS savedAt, attack_since AS attackSince FROM reputation_roster_saved WHERE id = 1');
  const markSaved = d.db.prepare('INSERT INTO reputation_roster_saved (id, saved_at, attack_since) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET saved_at = excluded.saved_at, attack_since = excluded.attack_since');
  const write = d.db.transaction((rows: Row[], at: number) => {
    for (const r of rows) upsert.run(r[0], r[1], r[2], r[3]);
    markSaved.run(at, d.attackSince?.() ?? null);
  });

  // Monotonic times of the last writes (every reputation presented since is still to write).
  let newSince = d.ticker.now();
  let touchSince = newSince; // never after newSince
  let pending: Row[] = [];
  let writing: NodeJS.Immediate | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failing = false;

  /** Rows for the reputations presented since `since`: all of them (`touch`), or those first presented since `firstSince`. */
  const collect = (since: number, firstSince: number, touch: boolean): Row[] => {
    const offset = d.clock.now() - d.ticker.now();
    const rows: Row[] = [];
    for (const e of d.roster.seenSince(since)) {
      if (touch || e.first >= firstSince) rows.push([e.id, e.first + offset, e.last + offset, e.returning ? 1 : 0]);
    }
    return rows;
  };
  const writeRows = (rows: Row[]): boolean => {
    try {
      write(rows, d.clock.now());
      failing = false;
      return true;
    } catch (e) {
      // Lost from the file only: the roster stays whole in memory; logged once per failing spell.
      if (!failing) d.log.warn({ err: (e as Error).message, rows: rows.length }, 'reputation roster not saved');
      failing = true;
      return false;
    }
  };
  const drain = (): void => {
    writing = undefined;
    const chunk = pending.splice(0, CHUNK_ROWS);
    if (chunk.length > 0 && !writeRows(chunk)) { pending = []; return; }
    if (pending.length > 0) writing = setImmediate(drain);
  };
  /**
   * Collects what is to write: new first sightings, and the last sightings too when `touch`. Written
   * in chunks over the next turns (returns the rows queued); at stop, written at once.
   */
  const flush = (touch: boolean, atOnce = false): number => {
    const now = d.ticker.now();
    const rows = collect(touch ? touchSince : newSince, newSince, touch);
    newSince = now;
    if (touch) touchSince = now;
    if (atOnce) {
      if (writing !== undefined) clearImmediate(writing);
      writing = undefined;
      const queued = pending.concat(rows);
      pending = [];
      if (queued.length > 0 || touch) writeRows(queued);
      return queued.length;
    }
    // Not push(...rows): a touch of the whole roster is 200,000 arguments, past what a call takes.
    pending = pending.length === 0 ? rows : pending.concat(rows);
    if (writing === undefined && pending.length > 0) writing = setImmediate(drain);
    return rows.length;
  };
  const tick = (): void => {
    const touch = d.ticker.now() - touchSince >= (d.touchEveryMs ?? ROSTER_TOUCH_EVERY_MS);
    // Nothing new: the save's time and the attack under way are still written (a crash's restart
    // reads the time down from them).
    if (flush(touch) === 0 && writing === undefined) writeRows([]);
    if (touch) {
      try { purge.run(d.clock.now() - memoryMs); } catch { /* the next touch purges */ }
    }
  };

  return {
    name: 'reputation-roster',
    flush: (touch) => flush(touch, true),
    queue: (touch) => flush(touch),
    start() {
      const wallNow = d.clock.now();
      const tickNow = d.ticker.now();
      const offset = wallNow - tickNow;
      try {
        purge.run(wallNow - memoryMs);
        const rows = all.all(wallNow - memoryMs) as Row[];
        const saved = savedAt.get() as { savedAt: number; attackSince: number | null } | undefined;
        if (rows.length > 0) {
          const entries = rows.map((r) => ({ id: r[0], first: r[1] - offset, last: r[2] - offset, returning: r[3] === 1 }));
          // Down since the last save: no rate is judged over that time.
          const downFrom = Math.min(tickNow, (saved?.savedAt ?? wallNow) - offset);
          const underWay = saved?.attackSince != null ? saved.attackSince - offset : undefined;
          if (d.roster.restore(entries, downFrom, tickNow, underWay)) {
            d.log.info({ reputations: d.roster.size, downS: Math.round((tickNow - downFrom) / 1000), ...(underWay !== undefined ? { attackUnderWayS: Math.round((tickNow - underWay) / 1000) } : {}) }, 'reputation roster restored');
          }
        }
      } catch (e) {
        d.log.warn({ err: (e as Error).message }, 'saved reputation roster unreadable: starting afresh');
      }
      newSince = touchSince = d.ticker.now();
      timer = setInterval(tick, d.everyMs ?? ROSTER_SAVE_EVERY_MS);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      flush(true, true);
    },
  };
}
