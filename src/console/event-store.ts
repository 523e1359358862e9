import type { SqliteDatabase } from './database.js';

/** One entry of the console's event log. */
export interface LoggedEvent {
  readonly id: number;
  /** ms since the epoch. */
  readonly at: number;
  /** e.g. attack, mitigation, block, operator, config, incident. */
  readonly type: string;
  /** Who caused it: an operator name, "detector", "config". */
  readonly who: string;
  readonly summary: string;
  readonly detail: unknown;
}

/** A search of the event log. */
export interface EventQuery {
  readonly from?: number | undefined;
  readonly to?: number | undefined;
  readonly types?: readonly string[] | undefined;
  /** Substring of the summary or who (case-insensitive). */
  readonly text?: string | undefined;
  readonly limit?: number | undefined;
  /** Only events with a smaller id (paging backwards). */
  readonly before?: number | undefined;
}

/** The event log port: append, search, forget old entries. */
export interface EventStore {
  append(e: Omit<LoggedEvent, 'id'>): void;
  query(q: EventQuery): LoggedEvent[];
  purgeBefore(at: number): number;
  /** Writes what was appended since the last flush (one transaction). */
  flush(): void;
}

/**
 * The event log in SQLite. Appends are buffered and written in one transaction per flush (the
 * console service flushes every second): a burst of mitigations during a flood costs one fsync.
 */
export function createEventStore(db: SqliteDatabase): EventStore {
  db.exec(`CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    type TEXT NOT NULL,
    who TEXT NOT NULL,
    summary TEXT NOT NULL,
    detail TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS events_at ON events(at);
  CREATE INDEX IF NOT EXISTS events_type_at ON events(type, at);`);
  const insert = db.prepare('INSERT INTO events (at, type, who, summary, detail) VALUES (?, ?, ?, ?, ?)');
  const purge = db.prepare('DELETE FROM events WHERE at < ?');
  let pending: Array<Omit<LoggedEvent, 'id'>> = [];
  const writeAll = db.transaction((list: Array<Omit<LoggedEvent, 'id'>>) => {
    for (const e of list) insert.run(e.at, e.type, e.who, e.summary, JSON.stringify(e.detail ?? null));
  });
  const flush = (): void => {
    if (pending.length === 0) return;
    const list = pending;
    pending = [];
    writeAll(list);
  };
  return {
    append(e) {
      // Bounded: a flood of events between two flushes cannot grow memory without limit.
      if (pending.length < 10_000) pending.push(e);
    },
    flush,
    query(q) {
      flush(); // a search sees everything appended before it
      const where: string[] = [];
      const args: unknown[] = [];
      if (q.from !== undefined) { where.push('at >= ?'); args.push(q.from); }
      if (q.to !== undefined) { where.push('at <= ?'); args.push(q.to); }
      if (q.before !== undefined) { where.push('id < ?'); args.push(q.before); }
      if (q.types && q.types.length > 0) { where.push(`type IN (${q.types.map(() => '?').join(',')})`); args.push(...q.types); }
      if (q.text) {
        where.push("(summary LIKE ? ESCAPE '\\' OR who LIKE ? ESCAPE '\\')");
        const like = `%${q.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        args.push(like, like);
      }
      const limit = Math.max(1, Math.min(1000, q.limit ?? 200));
      const sql = `SELECT id, at, type, who, summary, detail FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`;
      return (db.prepare(sql).all(...args) as Array<{ id: number; at: number; type: string; who: string; summary: string; detail: string }>)
        .map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown }));
    },
    purgeBefore(at) {
      flush();
      return purge.run(at).changes;
    },
  };
}
