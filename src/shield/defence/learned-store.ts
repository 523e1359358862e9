/**
 * Keeps what detection learned in normal times (rate baselines per route class, shares of
 * fingerprints, agents, paths, query shapes, prefixes) in the shield's SQLite file, and gives it
 * back at start.
 *
 * Why: baselines learn only in normal times (an attack must not become normal), so a shield
 * restarted during an attack — an operator's first reflex, or a crash — would stay cold for the
 * whole attack: rate signals off, no signature on fingerprints, paths or query shapes, and address
 * shares judged against a floor instead of what the site's traffic looks like. Saved every minute
 * while every class is normal, and at stop; restored when younger than `maxAgeMs` (a week by
 * default: a site's mix older than that is not its mix). Without `storage.database` the file is in
 * memory and nothing outlives the process.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { Service } from '../../core/lifecycle.js';
import type { Config } from '../../config/schema.js';
import type { SqliteDatabase } from '../../console/database.js';
import type { Detector } from './detector.js';

/** Saved baselines older than this are not restored. */
export const LEARNED_MAX_AGE_MS = 7 * 86_400_000;
/** How often the baselines are saved while every class is normal. */
export const LEARNED_SAVE_EVERY_MS = 60_000;

/** What the operator port does with the saved baselines. */
export interface LearnedStore {
  /** Saves the baselines now if every class is normal; false when it did not. */
  save(): boolean;
  /**
   * Deletes the saved baselines: a restart learns afresh. With `Detector.forget`, the answer to a
   * flood learned as normal — the saved row would otherwise bring it back at every start for a week.
   */
  discard(): void;
}

/** The learned-baselines service over the shield's database. */
export function createLearnedStore(d: {
  db: SqliteDatabase; detector: Pick<Detector, 'learned' | 'restore'>; clock: Clock; log: Pick<Logger, 'info' | 'warn'>;
  maxAgeMs?: number; everyMs?: number;
}): Service<Config> & LearnedStore {
  const maxAgeMs = d.maxAgeMs ?? LEARNED_MAX_AGE_MS;
  d.db.exec('CREATE TABLE IF NOT EXISTS detector_learned (id INTEGER PRIMARY KEY CHECK (id = 1), saved_at INTEGER NOT NULL, data TEXT NOT NULL)');
  const read = d.db.prepare('SELECT saved_at AS savedAt, data FROM detector_learned WHERE id = 1');
  const write = d.db.prepare('INSERT INTO detector_learned (id, saved_at, data) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET saved_at = excluded.saved_at, data = excluded.data');
  const remove = d.db.prepare('DELETE FROM detector_learned WHERE id = 1');
  let timer: NodeJS.Timeout | undefined;
  const save = (): boolean => {
    const learned = d.detector.learned();
    if (learned === undefined) return false; // not normal now: keep the last normal ones
    try {
      write.run(d.clock.now(), JSON.stringify(learned));
      return true;
    } catch (e) {
      d.log.warn({ err: (e as Error).message }, 'detection baselines not saved');
      return false;
    }
  };
  return {
    name: 'learned-baselines',
    save,
    discard() { remove.run(); },
    start() {
      const row = read.get() as { savedAt: number; data: string } | undefined;
      if (row !== undefined) {
        const ageMs = d.clock.now() - row.savedAt;
        if (ageMs > maxAgeMs || ageMs < 0) {
          d.log.info({ ageS: Math.round(ageMs / 1000) }, 'saved detection baselines too old: learning afresh');
        } else {
          let data: unknown;
          try { data = JSON.parse(row.data); } catch { data = undefined; }
          if (d.detector.restore(data)) d.log.info({ ageS: Math.round(ageMs / 1000) }, 'detection baselines restored');
          else d.log.warn({}, 'saved detection baselines unreadable: learning afresh');
        }
      }
      timer = setInterval(save, d.everyMs ?? LEARNED_SAVE_EVERY_MS);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      save();
    },
  };
}
